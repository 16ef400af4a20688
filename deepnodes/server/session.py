"""Open workflows ("documents") and the event hub that forwards engine events to WebSocket clients.

A document owns a `Workflow` and its `Engine`. Runs happen in a background thread; the server never calls
a node itself. Engine events arrive on engine threads and are handed to the asyncio loop, where the hub
throttles them (metrics and progress: at most 20 messages a second per node, batching the points so none
is lost and every epoch arrives) and fans them out to every tab that watches the document.
"""
from __future__ import annotations

import asyncio
import copy
import itertools
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from deepnodes.core import Engine, Workflow, WorkflowError, registry

MIN_INTERVAL = 0.05  # seconds between two metrics (or progress) messages of one node: 20 per second
MAX_BATCH_POINTS = 20000  # per node; older batch points are thinned by half when exceeded
LOG_LINES = 500


class EditError(Exception):
    """An edit that cannot be applied; `errors` lists field-level messages for a config dialog."""

    def __init__(self, message: str, status: int = 422, errors: list[dict] | None = None, op: int | None = None):
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


class Document:
    _ids = itertools.count(1)

    def __init__(self, hub: "Hub", workflow: Workflow, path: str | None, example: str | None = None):
        self.id = f"d{next(self._ids)}"
        self.hub = hub
        self.workflow = workflow
        self.path = path  # relative to the workspace, or None while unsaved
        self.example = example
        self.engine = Engine(workflow)
        self.version = 0
        self.dirty = False
        self.lock = threading.RLock()
        self.thread: threading.Thread | None = None
        self._busy = False  # a run was started and has not finished (its last events may still be on their way)
        self.metrics: dict[str, dict[str, list]] = {}
        self.logs: deque = deque(maxlen=LOG_LINES)
        self.engine.subscribe(self._on_event)
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
                    "workflow": self.workflow.to_json(),
                    "status": {nid: self.status_json(nid) for nid in self.workflow.nodes}}

    @property
    def running(self) -> bool:
        return self._busy

    # ------------------------------------------------------------------ edits
    def edit(self, ops: list[dict]) -> dict:
        """Apply a list of edit operations atomically; broadcast the new graph to every tab."""
        with self.lock:
            layout_only = all(op.get("op") in ("move", "label") for op in ops)
            if self.running and not layout_only:
                raise EditError("the workflow is running; wait for it to finish or cancel it before changing the graph",
                                status=409)
            wf = self.workflow if layout_only else Workflow.from_json(copy.deepcopy(self.workflow.to_json()))
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
        kind = op.get("op")
        if kind == "add":
            type_id = op.get("type", "")
            try:
                cls = registry.get(type_id)
            except KeyError as e:
                raise EditError(e.args[0]) from None
            cfg = op.get("config") or {}
            errs = config_errors(cls, cfg)
            if errs:
                raise EditError(f"option '{errs[0]['field']}': {errs[0]['message']}", errors=errs)
            nid = op.get("id")
            if nid is not None and (not isinstance(nid, str) or not nid or len(nid) > 100):
                raise EditError("a node id must be a non-empty string of at most 100 characters")
            nid = wf.add(type_id, nid, cfg, op.get("label") or "", _position(op.get("position")))
            return [nid]
        if kind == "remove":
            wf.remove(op["id"])
            return None
        if kind == "connect":
            wf.connect(op["source"], op["source_port"], op["target"], op["target_port"])
            return None
        if kind == "disconnect":
            wf._node(op["target"])
            wf.disconnect(op["target"], op["target_port"])
            return None
        if kind == "move":
            wf._node(op["id"]).position = _position(op.get("position"))
            return None
        if kind == "label":
            label = str(op.get("label", ""))
            if len(label) > 200:
                raise EditError("a node label may have at most 200 characters")
            entry = wf._node(op["id"])
            entry.label = label or registry.get(entry.type).name
            return None
        if kind == "config":
            entry = wf._node(op["id"])
            cfg = op.get("config")
            if not isinstance(cfg, dict):
                raise EditError("'config' must be an object of option values")
            errs = config_errors(registry.get(entry.type), cfg)
            if errs:
                raise EditError(f"node '{entry.id}' option '{errs[0]['field']}': {errs[0]['message']}", errors=errs)
            wf.set_config(op["id"], cfg)
            return None
        if kind == "rename":
            name = str(op.get("name", "")).strip()
            if not name or len(name) > 200:
                raise EditError("a workflow name must have 1 to 200 characters")
            wf.name = name
            return None
        raise EditError(f"unknown edit operation {kind!r}; known: add, remove, connect, disconnect, move, label, "
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


def _position(p: Any) -> tuple[float, float]:
    if p is None:
        return (0.0, 0.0)
    if not isinstance(p, (list, tuple)) or len(p) != 2 or not all(isinstance(x, (int, float)) for x in p):
        raise EditError("'position' must be a list of two numbers")
    return (float(p[0]), float(p[1]))


class Hub:
    """Fans events out to WebSocket clients, with per-node throttling of metrics and progress."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: dict[str, set[asyncio.Queue]] = {}
        # (doc, node, channel) -> pending state: {'last': t, 'points': [...], 'latest': ev, 'handle': TimerHandle}
        self._pending: dict[tuple, dict] = {}

    # called from any thread
    def publish(self, doc_id: str, ev: dict) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._dispatch, doc_id, ev)
        except RuntimeError:  # the loop is shutting down
            pass

    # the rest runs in the event loop
    def add(self, doc_id: str, q: asyncio.Queue) -> None:
        self.clients.setdefault(doc_id, set()).add(q)

    def remove(self, doc_id: str, q: asyncio.Queue) -> None:
        self.clients.get(doc_id, set()).discard(q)

    def _send(self, doc_id: str, msg: dict) -> None:
        for q in list(self.clients.get(doc_id, ())):
            if q.qsize() < 10000:  # a stuck tab cannot make the server run out of memory
                q.put_nowait(msg)

    def _dispatch(self, doc_id: str, ev: dict) -> None:
        t = ev.get("type")
        nid = ev.get("node")
        if t == "metrics" and nid:
            self._throttled(doc_id, nid, "metrics", ev)
        elif t == "progress" and nid:
            self._throttled(doc_id, nid, "progress", ev)
        else:
            if nid and t == "state":
                # what was held back comes first, so a chart is complete when the node turns 'executed'
                self._flush(doc_id, nid, "metrics")
                self._flush(doc_id, nid, "progress")
            self._send(doc_id, ev)

    def _throttled(self, doc_id: str, nid: str, channel: str, ev: dict) -> None:
        key = (doc_id, nid, channel)
        p = self._pending.setdefault(key, {"last": 0.0, "points": [], "latest": None, "handle": None})
        if channel == "metrics":
            p["points"].append({"kind": ev.get("kind", "batch"), "step": ev.get("step"), "epoch": ev.get("epoch"),
                                "values": ev.get("values", {}), "time": ev.get("time")})
        else:
            p["latest"] = ev
        now = time.monotonic()
        wait = p["last"] + MIN_INTERVAL - now
        if wait <= 0:
            self._flush(doc_id, nid, channel)
        elif p["handle"] is None:
            p["handle"] = self.loop.call_later(wait, self._flush, doc_id, nid, channel)

    def _flush(self, doc_id: str, nid: str, channel: str) -> None:
        key = (doc_id, nid, channel)
        p = self._pending.get(key)
        if p is None:
            return
        if p["handle"] is not None:
            p["handle"].cancel()
            p["handle"] = None
        if channel == "metrics" and p["points"]:
            self._send(doc_id, {"type": "metrics", "node": nid, "points": p["points"]})
            p["points"] = []
            p["last"] = time.monotonic()
        elif channel == "progress" and p["latest"] is not None:
            self._send(doc_id, p["latest"])
            p["latest"] = None
            p["last"] = time.monotonic()


class Documents:
    """The open documents, found by id or by workspace path (two tabs on one file share one document)."""

    def __init__(self, hub: Hub, workspace: Path):
        self.hub = hub
        self.workspace = workspace
        self.by_id: dict[str, Document] = {}
        self.lock = threading.Lock()

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
            d = Document(self.hub, wf, path, example)
            self.by_id[d.id] = d
            return d
