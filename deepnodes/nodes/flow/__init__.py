"""Nodes that hold a workflow: Component (with Component Input / Output in its body) and the loops."""
