"""API route of the editor's Deploy panel: whether the open workflow can be served, and the commands
(`deepnodes/service/deploy.py`)."""
from __future__ import annotations

from fastapi import FastAPI

from .session import Documents


def add_routes(app: FastAPI, docs: Documents) -> None:
    @app.get("/api/docs/{doc_id}/deploy")
    def deploy(doc_id: str):
        from deepnodes.service.deploy import deploy_report

        doc = docs.get(doc_id)
        with doc.lock:
            states = {n: st.state for n, st in doc.engine.status.items()}
            return deploy_report(doc.workflow, states, doc.path, doc.dirty)
