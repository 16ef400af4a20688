"""Open workflows ("documents"): a workflow, its engine, and the edits and runs a tab asks for.

A document owns a `Workflow` and its `Engine`. Runs happen in a background thread; the server never calls
a node itself. Engine events go to the hub (`hub.py`), which forwards them to every tab that watches the
document. A closed document lets go of its engine, results and histories.
"""
from __future__ import annotations

import copy
import itertools
import math
import re
import secrets
import threading
from collections import deque
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from deepnodes.core import Engine, Workflow, WorkflowError, registry
from deepnodes.core.workflow import node_ports

from .hub import Hub

MAX_BATCH_POINTS = 20000  # per node; older batch points are thinned by half when exceeded
LOG_LINES = 500


ECHO = 200  # characters of a value a message repeats
_QUOTED = re.compile(r"'([^']{%d,})'" % (ECHO + 1))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # a sentence is one line, whatever it echoes


def cut_echoes(message: str) -> str:
    """A message with every quoted value cut to ECHO characters (ids, paths, names a client sent), control
    characters blanked, and the whole cut to a few echoes' length, whatever the sentence's author remembered."""
    message = _CONTROL.sub(" ", _QUOTED.sub(lambda m: f"'{m[1][:ECHO]}...'", str(message)))
    return message if len(message) <= 4 * ECHO else message[:4 * ECHO] + "..."


class EditError(Exception):
    """An edit that cannot be applied; `errors` lists field-level messages for a config dialog."""

    def __init__(self, message: str, status: int = 422, errors: list[dict] | None = None, op: int | None = None):
        message = cut_echoes(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors or []
        self.op = op


def config_errors(cls, config: dict) -> list[dict]:
    """Every validation problem of a node config, one per field: [{'field': 'units', 'message': ...}]."""
    try:
        cls.Config.model_validate(config)
    except ValidationError as e:
        out = []
        for err in e.errors():
            field = ".".join(str(x) for x in err["loc"]) or "config"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = f"'{field}' is not an option of this node"
            out.append({"field": field, "message": msg[0].upper() + msg[1:] if msg else msg})
        return out
    return []


class GuardedEngine(Engine):
    """A document's engine: a node whose path options lead outside the allowed folders (`confine.PathPolicy`)
    is neither configured nor executed; it shows the sentence instead. Checked again before executing, in
    case a link changed since configure."""

    def __init__(self, workflow: Workflow, policy=None):
        self.policy = policy
        super().__init__(workflow)

    def refusal(self, nid: str) -> str | None:
        if self.policy is None:
            return None
        entry = self.workflow.nodes[nid]
        try:
            cls = registry.get(entry.type)
        except KeyError:
            return None  # the engine says that the type is unknown
        try:
            return self.policy.check(cls, entry.config, self.workflow.folder)
        except Exception as e:  # noqa: BLE001 - a path that cannot be checked is not used (and the server stays up)
            return f"its file options cannot be checked ({type(e).__name__}: {str(e)[:200]}), so it is not used"

    def _configure_one(self, nid, st) -> None:
        msg = self.refusal(nid)
        if msg:
            return self._unconfigured(nid, st, msg)
        return super()._configure_one(nid, st)

    def _execute(self, nid: str) -> str:
        msg = self.refusal(nid)
        if msg:
            self.status[nid].outputs = None
            self._set_state(nid, "failed", msg)
            return "failed"
        return super()._execute(nid)


class Document:
    _ids = itertools.count(1)

    def __init__(self, hub: "Hub", workflow: Workflow, path: str | None, example: str | None = None, policy=None,
                 doc_id: str | None = None):
        self.id = doc_id or f"d{next(self._ids)}"
        self.hub = hub
        self.workflow = workflow
        self.path = path  # relative to the workspace, or None while unsaved
        self.example = example
        self.engine = GuardedEngine(workflow, policy)
        self.version = 0
        self.dirty = False
        self.lock = threading.RLock()
        self.thread: threading.Thread | None = None
        self._busy = False  # a run was started and has not finished (its last events may still be on their way)
        self.metrics: dict[str, dict[str, list]] = {}
        self.logs: deque = deque(maxlen=LOG_LINES)
        self._unsubscribe = self.engine.subscribe(self._on_event)
        self.engine.configure()

    # ------------------------------------------------------------------ events
    def _on_event(self, ev: dict) -> None:
        t = ev.get("type")
        nid = ev.get("node")
        if t == "metrics" and nid:
            h = self.metrics.setdefault(nid, {"batch": [], "epoch": []})
            point = {"step": ev.get("step"), "epoch": ev.get("epoch"), "values": ev.get("values", {}),
                     "time": ev.get("time")}
            kind = "epoch" if ev.get("kind") == "epoch" else "batch"
            h[kind].append(point)
            if kind == "batch" and len(h["batch"]) > MAX_BATCH_POINTS:
                h["batch"] = h["batch"][::2]
        elif t == "state" and nid and ev.get("state") == "executing":
            self.metrics[nid] = {"batch": [], "epoch": []}  # a new run starts a new chart
        elif t == "log":
            self.logs.append({"node": nid, "level": ev.get("level", "info"), "line": ev.get("line", ""),
                              "time": ev.get("time")})
        self.hub.publish(self.id, ev)

    # ------------------------------------------------------------------ snapshots
    def status_json(self, nid: str) -> dict:
        st = self.engine.status.get(nid)
        if st is None:
            return {"state": "idle", "message": "", "specs": [], "progress": None, "scalars": {}, "seconds": None}
        d = st.to_json()
        d["partial"] = st.partial
        d["has_traceback"] = bool(st.traceback)
        return d

    def snapshot(self) -> dict:
        with self.lock:
            return {"id": self.id, "name": self.workflow.name, "path": self.path, "example": self.example,
                    "version": self.version, "dirty": self.dirty, "running": self.running,
                    "workflow": self._workflow_json(),
                    "status": {nid: self.status_json(nid) for nid in self.workflow.nodes}}

    def _workflow_json(self) -> dict:
        """The workflow as its file holds it, plus `ports` on each node whose configuration defines its ports
        (a component's come from its body): the editor draws those instead of its type's."""
        wf = self.workflow.to_json()
        for n in wf["nodes"]:
            entry = self.workflow.nodes.get(n["id"])
            try:
                cls = registry.get(n["type"])
            except KeyError:
                continue
            if entry is None or not hasattr(cls, "ports_for"):
                continue
            try:
                ins, outs = node_ports(entry, self.workflow.folder)
            except Exception:  # noqa: BLE001 - a broken body: the node shows its error, drawn with no ports
                ins, outs = [], []
            n["ports"] = {"inputs": [p.to_json() for p in ins], "outputs": [p.to_json() for p in outs]}
        return wf

    @property
    def running(self) -> bool:
        return self._busy

    # ------------------------------------------------------------------ edits
    def edit(self, ops: list[dict]) -> dict:
        """Apply a list of edit operations atomically; broadcast the new graph to every tab."""
        with self.lock:
            layout_only = all(op.get("op") in ("move", "label") and not op.get("in") for op in ops)
            if self.running and not layout_only:
                raise EditError("the workflow is running; wait for it to finish or cancel it before changing the graph",
                                status=409)
            wf = self.workflow if layout_only else Workflow.from_json(copy.deepcopy(self.workflow.to_json()), self.workflow.folder)
            wf.path = self.workflow.path
            created: list[str] = []
            for i, op in enumerate(ops):
                try:
                    created += self._apply(wf, op) or []
                except EditError as e:
                    e.op = i
                    raise
                except (WorkflowError, ValueError, KeyError, TypeError) as e:
                    msg = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
                    if isinstance(e, KeyError) and " " not in msg:
                        msg = f"the edit refers to '{msg[:100]}', which does not exist"
                    raise EditError(msg, op=i) from None
            if wf is not self.workflow:
                self.workflow = wf
                self.engine.workflow = wf
                self.engine.configure()
            self.version += 1
            self.dirty = True
            snap = self.snapshot()
        snap["created"] = created
        self.hub.publish(self.id, {"type": "graph", "doc": snap})
        return snap

    def _apply(self, wf: Workflow, op: dict) -> list[str] | None:
        if op.get("in"):  # an edit inside a node's body (a component opened in place)
            from .body_edits import apply_inside

            return apply_inside(wf, op, self._apply)
        kind = op.get("op")
        if kind == "add":
            type_id = _text(op, "type")
            try:
                cls = registry.get(type_id)
            except KeyError as e:
                raise EditError(e.args[0]) from None
            cfg = op.get("config") or {}
            if not isinstance(cfg, dict):
                raise EditError("'config' must be an object of option values")
            errs = config_errors(cls, cfg)
            if errs:
                raise EditError(f"option '{errs[0]['field']}': {errs[0]['message']}", errors=errs)
            nid = op.get("id")
            if nid is not None and (not isinstance(nid, str) or not nid or len(nid) > 100):
                raise EditError("a node id must be a non-empty string of at most 100 characters")
            label = op.get("label") or ""
            if not isinstance(label, str) or len(label) > 200:
                raise EditError("a node label must be a string of at most 200 characters")
            nid = wf.add(type_id, nid, cfg, label, _position(op.get("position")))
            return [nid]
        if kind == "remove":
            wf.remove(_text(op, "id"))
            return None
        if kind == "make_component":  # the chosen nodes into one Component; boundary connections become its ports
            from deepnodes.core.make_component import make_component

            chosen = op.get("nodes")
            if not isinstance(chosen, list) or not all(isinstance(n, str) for n in chosen) or len(chosen) > 1000:
                raise EditError("'nodes' must be a list of node ids")
            nid = op.get("id")
            if nid is not None and (not isinstance(nid, str) or not nid or len(nid) > 100):
                raise EditError("a node id must be a non-empty string of at most 100 characters")
            return [make_component(wf, chosen, nid)]
        if kind == "connect":
            wf.connect(_text(op, "source"), _text(op, "source_port"), _text(op, "target"), _text(op, "target_port"))
            return None
        if kind == "disconnect":
            wf._node(_text(op, "target"))
            wf.disconnect(_text(op, "target"), _text(op, "target_port"))
            return None
        if kind == "move":
            wf._node(_text(op, "id")).position = _position(op.get("position"))
            return None
        if kind == "label":
            label = op.get("label") or ""
            if not isinstance(label, str):
                raise EditError("a node label must be a string")
            if len(label) > 200:
                raise EditError("a node label may have at most 200 characters")
            entry = wf._node(_text(op, "id"))
            entry.label = label or registry.get(entry.type).name
            return None
        if kind == "config":
            entry = wf._node(_text(op, "id"))
            cfg = op.get("config")
            if not isinstance(cfg, dict):
                raise EditError("'config' must be an object of option values")
            errs = config_errors(registry.get(entry.type), cfg)
            if errs:
                raise EditError(f"node '{entry.id}' option '{errs[0]['field']}': {errs[0]['message']}", errors=errs)
            wf.set_config(_text(op, "id"), cfg)
            return None
        if kind == "rename":
            name = op.get("name")
            name = name.strip() if isinstance(name, str) else ""
            if not name or len(name) > 200:
                raise EditError("a workflow name must have 1 to 200 characters")
            wf.name = name
            return None
        raise EditError(f"unknown edit operation {str(kind)[:40]!r}; known: add, remove, connect, disconnect, move, label, "
                        "config, rename")

    # ------------------------------------------------------------------ running
    def execute(self, nodes: list[str] | None = None) -> None:
        with self.lock:
            if self.running or self.engine.running:
                raise EditError("the workflow is already running", status=409)
            for n in nodes or []:
                if n not in self.workflow.nodes:
                    raise EditError(f"there is no node '{n}' in the workflow", status=404)
            self._busy = True
            self.thread = threading.Thread(target=self._run, args=(nodes,), name=f"deepnodes-run-{self.id}",
                                           daemon=True)
            self.thread.start()

    def _run(self, nodes: list[str] | None) -> None:
        try:
            self.engine.run(nodes=nodes or None)
        except Exception as e:  # noqa: BLE001 - shown in the log panel; the server stays up
            self._on_event({"type": "log", "node": None, "level": "error", "line": f"the run failed: {e}"})
            self._on_event({"type": "run", "state": "finished", "ok": False, "failed": [], "cancelled": False})
        finally:
            self._busy = False
            self.hub.publish(self.id, {"type": "graph", "doc": self.snapshot()})

    def cancel(self) -> None:
        self.engine.cancel()

    def stop(self, nid: str) -> None:
        self.workflow._node(nid)
        self.engine.request_stop(nid)

    def reset(self, nid: str | None) -> None:
        with self.lock:
            if nid is not None:
                self.workflow._node(nid)
            if self.running:
                raise EditError("the workflow is running; cancel it before resetting nodes", status=409)
            self.engine.reset(nid)
            for n in ({nid} | self.workflow.downstream(nid)) if nid else set(self.metrics):
                self.metrics.pop(n, None)
        self.hub.publish(self.id, {"type": "graph", "doc": self.snapshot()})

    def wait(self, timeout: float | None = None) -> None:
        t = self.thread
        if t is not None:
            t.join(timeout)

    def free(self) -> None:
        """Let go of everything the document holds: a run is cancelled, results and histories dropped."""
        self.engine.cancel()
        self.wait(5.0)
        self._unsubscribe()
        with self.lock:
            self.engine.status.clear()
            self.engine._saved, self.engine._index = {}, None
            self.metrics.clear()
            self.logs.clear()


def _text(op: dict, key: str) -> str:
    """A required string field of an edit operation."""
    v = op.get(key)
    if not isinstance(v, str) or not v or len(v) > 200:
        raise EditError(f"the edit operation '{str(op.get('op'))[:40]}' needs '{key}' as a non-empty string")
    return v


def _position(p: Any) -> tuple[float, float]:
    if p is None:
        return (0.0, 0.0)
    if (not isinstance(p, (list, tuple)) or len(p) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in p)):
        raise EditError("'position' must be a list of two numbers")
    try:
        x, y = float(p[0]), float(p[1])
    except OverflowError:
        x = y = math.inf
    if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > 1e9:
        raise EditError("'position' must be two finite numbers between -1e9 and 1e9")
    return (x, y)


class Documents:
    """The open documents, found by id or by workspace path (two tabs on one file share one document)."""

    def __init__(self, hub: Hub, workspace: Path, policy=None):
        self.hub = hub
        self.workspace = workspace
        self.policy = policy
        self.by_id: dict[str, Document] = {}
        self.lock = threading.RLock()
        # ids are unique to this server run: a tab left open across a restart never reaches another document
        self._run = secrets.token_hex(3)
        self._ids = itertools.count(1)

    def get(self, doc_id: str) -> Document:
        try:
            return self.by_id[doc_id]
        except KeyError:
            raise EditError(f"there is no open workflow '{doc_id}'; open it again", status=404) from None

    def by_path(self, rel: str) -> Document | None:
        for d in self.by_id.values():
            if d.path == rel:
                return d
        return None

    def create(self, wf: Workflow, path: str | None, example: str | None = None) -> Document:
        with self.lock:
            d = Document(self.hub, wf, path, example, self.policy, doc_id=f"d{next(self._ids)}-{self._run}")
            self.by_id[d.id] = d
            return d

    def open(self, rel: str, load) -> Document:
        """The document of a workspace file: the open one, or a new one from `load()` -> (workflow, results
        folder or None). Under the lock, so two tabs opening one file at once get one document."""
        with self.lock:
            existing = self.by_path(rel)
            if existing is not None:
                return existing
            wf, results = load()
            doc = self.create(wf, rel)
            if results is not None:
                doc.engine.load_results(results)
            return doc

    def close(self, doc_id: str, discard: bool = False) -> None:
        doc = self.get(doc_id)
        if doc.dirty and not discard:
            where = f"'{doc.path}'" if doc.path else f"'{doc.workflow.name}'"
            raise EditError(f"{where} has unsaved changes; save it, or close it with discard", status=409)
        with self.lock:
            self.by_id.pop(doc_id, None)
        self.hub.publish(doc_id, {"type": "__drop__"})
        doc.free()
