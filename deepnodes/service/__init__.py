"""Workflow services: a workflow with Service Input → ... → Service Output served over HTTP.

`schema.py` (the declared request columns → table spec and JSON Schema) and `decode.py` (request rows → Arrow
table, result table → rows) are torch-free; `segment.py` finds the served part of a workflow and runs it through
the engine on saved upstream results; `app.py` is the FastAPI service (`deepnodes serve-workflow`).
"""
