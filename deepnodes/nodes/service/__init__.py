"""Deployment nodes: Service Input and Service Output mark the part of a workflow a service runs per request."""
