"""API routes that show what a document's nodes hold: tables, networks, summaries, scorers, metrics, logs.
All JSON, computed from what the engine holds; nothing here executes a node."""
from __future__ import annotations

import json

from fastapi import FastAPI, Query

from deepnodes.core import WorkflowError
from deepnodes.core.workflow import node_ports
from deepnodes.core.ports import PORT_TYPES

from . import views
from .session import Document, Documents, EditError


def add_routes(app: FastAPI, docs: Documents) -> None:
    def _outputs(doc: Document, nid: str) -> list:
        """The node's output ports: its class's, or those its configuration defines (a component's, a loop's)."""
        entry = doc.workflow._node(nid)
        try:
            return list(node_ports(entry, doc.workflow.folder)[1])
        except WorkflowError:  # a broken body: the node shows why, and has no ports to view
            return []

    def _port(doc: Document, nid: str, port: str):
        outputs = _outputs(doc, nid)
        for i, p in enumerate(outputs):
            if p.name == port or str(i) == port:
                st = doc.engine.status.get(nid)
                obj = st.outputs[i] if st is not None and st.outputs is not None else None
                spec = st.specs[i] if st is not None and i < len(st.specs) else None
                return p, obj, spec, st
        names = ", ".join(p.name for p in outputs) or "none"
        raise EditError(f"node '{nid}' has no output port '{port}' (its ports: {names})", status=404)

    @app.get("/api/docs/{doc_id}/nodes/{nid}/ports/{port}/table")
    def view_table(doc_id: str, nid: str, port: str, offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=200),
                   sort: str = Query("", max_length=200), descending: bool = Query(False)):
        doc = docs.get(doc_id)
        p, obj, _, _ = _port(doc, nid, port)
        if obj is None:
            raise EditError(f"node '{nid}' has not been executed; execute it to see its output", status=409)
        if p.type != "table":
            raise EditError(f"port '{p.name}' carries a {p.type}, not a table", status=400)
        try:
            return views.table_view(obj, offset, limit, sort, descending)
        except ValueError as e:  # a column that is not there or has no order: one sentence
            raise EditError(str(e), status=400) from None

    @app.get("/api/docs/{doc_id}/nodes/{nid}/ports/{port}/network")
    def view_network(doc_id: str, nid: str, port: str):
        doc = docs.get(doc_id)
        p, obj, spec, _ = _port(doc, nid, port)
        if p.type != "network":
            raise EditError(f"port '{p.name}' carries a {p.type}, not a network", status=400)
        if obj is None and spec is None:
            raise EditError(f"node '{nid}' is not configured yet", status=409)
        return views.network_view(obj, spec)

    @app.get("/api/docs/{doc_id}/nodes/{nid}/ports/{port}/summary")
    def view_summary(doc_id: str, nid: str, port: str):
        doc = docs.get(doc_id)
        p, obj, spec, _ = _port(doc, nid, port)
        if obj is None:
            raise EditError(f"node '{nid}' has not been executed; execute it to see its output", status=409)
        try:
            s = PORT_TYPES[p.type].io.summary(obj)
        except Exception as e:  # noqa: BLE001
            s = {"error": str(e)}
        return {"kind": "summary", "port_type": p.type, "summary": json.loads(json.dumps(s, default=str))}

    @app.get("/api/docs/{doc_id}/nodes/{nid}/scorer")
    def view_scorer(doc_id: str, nid: str):
        doc = docs.get(doc_id)
        doc.workflow._node(nid)
        st = doc.engine.status.get(nid)
        if st is None or st.outputs is None:
            raise EditError(f"node '{nid}' has not been executed; execute it to see its scores", status=409)
        tables = [(p.name, o) for p, o in zip(_outputs(doc, nid), st.outputs) if p.type == "table"]
        return views.scorer_view(tables, st.scalars)

    @app.get("/api/docs/{doc_id}/nodes/{nid}/best_ops")
    def best_ops(doc_id: str, nid: str, to: str = Query("", max_length=100)):
        """The edit that applies a Parameter Search's best configuration (to its body, or `to` a node); the editor
        sends it as an ordinary config edit, so it can be undone. Nothing is changed here."""
        from deepnodes.core import Workflow
        from deepnodes.nodes.flow.apply_best import apply_best

        doc = docs.get(doc_id)
        st = doc.engine.status.get(nid)
        if st is None or st.outputs is None:
            doc.workflow._node(nid)
            raise EditError(f"node '{nid}' has not been executed; run the search first", status=409)
        trial = Workflow.from_json(doc.workflow.to_json(), doc.workflow.folder)
        try:
            changes = apply_best(trial, nid, st.scalars, to or None)
        except WorkflowError as e:
            raise EditError(str(e), status=400) from None
        target = to or nid
        return {"ops": [{"op": "config", "id": target, "config": trial.nodes[target].config}], "changes": changes}

    @app.get("/api/docs/{doc_id}/nodes/{nid}/metrics")
    def metrics(doc_id: str, nid: str):
        doc = docs.get(doc_id)
        doc.workflow._node(nid)
        h = doc.metrics.get(nid, {"batch": [], "epoch": []})
        if not h["epoch"] and not h["batch"]:
            h = {"batch": [], "epoch": _saved_history(doc, nid)}
        st = doc.status_json(nid)
        return {"node": nid, "batch": list(h["batch"]), "epoch": list(h["epoch"]), "state": st["state"],
                "message": st["message"], "progress": st["progress"]}

    @app.get("/api/docs/{doc_id}/nodes/{nid}/log")
    def node_log(doc_id: str, nid: str):
        doc = docs.get(doc_id)
        doc.workflow._node(nid)
        st = doc.engine.status.get(nid)
        # a user error is its one sentence; a traceback is for a bug (and `deepnodes run --debug`)
        return {"node": nid, "message": st.message if st else "", "traceback": st.traceback if st and not st.user_error else "",
                "lines": [x for x in doc.logs if x["node"] == nid]}

    @app.get("/api/docs/{doc_id}/log")
    def doc_log(doc_id: str):
        return {"lines": list(docs.get(doc_id).logs)}


def _saved_history(doc: Document, nid: str) -> list[dict]:
    """The per-epoch history a trained network carries (results reopened from disk have no live metrics)."""
    st = doc.engine.status.get(nid)
    for o in (st.outputs or []) if st is not None else []:
        hist = (getattr(o, "metadata", None) or {}).get("history") if hasattr(o, "metadata") else None
        if isinstance(hist, list) and hist:
            out = []
            for i, row in enumerate(hist):
                if not isinstance(row, dict):
                    continue
                vals = {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                        and k not in ("epoch", "step", "partial")}
                out.append({"step": row.get("step"), "epoch": row.get("epoch", i + 1), "values": vals, "time": None})
            return out
    return []
