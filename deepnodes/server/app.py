"""The editor's HTTP and WebSocket server (FastAPI).

`deepnodes serve [--host 127.0.0.1] [--port 8765] [--workspace DIR] [WORKFLOW]` prints a URL with a token;
every API call and the WebSocket need that token (query `?token=`, header `X-DeepNodes-Token` or
`Authorization: Bearer`). Workflow files are read and written only inside the workspace folder. The engine
runs in a background thread per workflow; the server only asks it to configure, run, cancel, stop and reset.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from deepnodes.core import Workflow, WorkflowError, registry
from deepnodes.core.ports import PORT_TYPES

from . import views
from .session import Document, Documents, EditError, Hub

MAX_BODY = 4 * 1024 * 1024  # bytes in one request (a workflow file is a few kB)
MAX_WS_MESSAGE = 64 * 1024
STATIC = Path(__file__).parent / "static"
TOKEN_HEADER = "x-deepnodes-token"


def examples_dir() -> Path | None:
    """The example workflows: packaged beside the code, or the repository's examples/ folder."""
    here = Path(__file__).resolve().parent.parent
    for d in (here / "examples", here.parent / "examples"):
        if d.is_dir():
            return d
    return None


class BodyLimit:
    """Refuses requests whose body is larger than `limit` bytes (declared or streamed) with 413."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        cl = headers.get(b"content-length")
        too_big = JSONResponse({"error": f"the request is larger than {self.limit // 1024} kB"}, status_code=413)
        if cl is not None:
            try:
                if int(cl) > self.limit:
                    return await too_big(scope, receive, send)
            except ValueError:
                return await JSONResponse({"error": "bad Content-Length"}, status_code=400)(scope, receive, send)
        # read the body here (at most `limit` bytes), then replay it to the app
        chunks: list[bytes] = []
        seen = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                return
            seen += len(msg.get("body", b""))
            if seen > self.limit:
                return await too_big(scope, receive, send)
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body", False):
                break
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> dict:
            if replay:
                return replay.pop()
            return await receive()

        await self.app(scope, replayed, send)


class Workspace:
    def __init__(self, root: Path):
        self.root = root.resolve()

    def resolve(self, rel: str, must_exist: bool = False) -> Path:
        """A workflow path inside the workspace; anything outside it (.., absolute, links out) is refused."""
        if not isinstance(rel, str) or not rel.strip():
            raise EditError("a workflow path is needed", status=400)
        if "\x00" in rel or len(rel) > 500:
            raise EditError("the workflow path is not valid", status=400)
        p = Path(rel)
        if p.is_absolute() or ".." in p.parts:
            raise EditError(f"the path '{rel}' is outside the workspace", status=403)
        if p.suffix != ".json":
            p = p.with_name(p.name + ".json")
        full = (self.root / p).resolve()
        if full != self.root and self.root not in full.parents:
            raise EditError(f"the path '{rel}' is outside the workspace", status=403)
        if must_exist and not full.is_file():
            raise EditError(f"there is no workflow '{rel}' in the workspace", status=404)
        return full

    def rel(self, full: Path) -> str:
        return full.relative_to(self.root).as_posix()

    def list(self) -> list[dict]:
        out = []
        skip = {"node_modules", "__pycache__", ".git", ".venv", "static"}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in skip
                                 and not d.endswith(".results"))
            depth = len(Path(dirpath).relative_to(self.root).parts)
            if depth >= 3:
                dirnames[:] = []
            for f in sorted(filenames):
                if not f.endswith(".json") or f.startswith("."):
                    continue
                full = Path(dirpath) / f
                info = _workflow_info(full)
                if info is not None:
                    out.append({"path": self.rel(full), **info})
                if len(out) >= 500:
                    return out
        return out


def _workflow_info(full: Path) -> dict | None:
    try:
        if full.stat().st_size > MAX_BODY:
            return None
        data = json.loads(full.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not str(data.get("format", "")).startswith("deepnodes.workflow/"):
        return None
    return {"name": data.get("name", full.stem), "nodes": len(data.get("nodes", [])),
            "description": data.get("description", "")}


def create_app(workspace: str | Path = ".", token: str | None = None, workflow: str | None = None) -> FastAPI:
    """The FastAPI app. `token=None` makes a random token (read it from `app.state.token`)."""
    ws = Workspace(Path(workspace))
    if not ws.root.is_dir():
        raise ValueError(f"the workspace folder '{workspace}' does not exist")
    hub = Hub()
    docs = Documents(hub, ws.root)
    token = token or secrets.token_urlsafe(24)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        hub.loop = asyncio.get_running_loop()
        yield
        for d in list(docs.by_id.values()):
            d.cancel()

    app = FastAPI(title="DeepNodes editor", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.token = token
    app.state.docs = docs
    app.state.hub = hub
    app.state.workspace = ws

    def token_ok(given: str | None) -> bool:
        return bool(given) and secrets.compare_digest(given.encode(), token.encode())

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if request.url.path.startswith("/api/"):
            given = (request.query_params.get("token") or request.headers.get(TOKEN_HEADER)
                     or request.headers.get("authorization", "").removeprefix("Bearer ").strip() or None)
            if not token_ok(given):
                return JSONResponse({"error": "a valid token is needed: open the URL that `deepnodes serve` printed"},
                                    status_code=401)
        return await call_next(request)

    @app.exception_handler(EditError)
    async def edit_error(request: Request, e: EditError):
        return JSONResponse({"error": e.message, "errors": e.errors, "op": e.op}, status_code=e.status)

    @app.exception_handler(WorkflowError)
    async def wf_error(request: Request, e: WorkflowError):
        return JSONResponse({"error": str(e), "errors": []}, status_code=422)

    async def body(request: Request) -> dict:
        raw = await request.body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise EditError("the request body is not valid JSON", status=400) from None
        if not isinstance(data, dict):
            raise EditError("the request body must be a JSON object", status=400)
        return data

    # ------------------------------------------------------------------ catalogue, files, examples
    @app.get("/api/info")
    def info():
        from deepnodes import __version__

        return {"version": __version__, "workspace": str(ws.root), "open_at_start": workflow}

    @app.get("/api/nodes")
    def nodes():
        cat = [registry.describe(c) for c in registry.all_nodes().values()]
        return {"nodes": cat, "port_types": {k: v.description for k, v in PORT_TYPES.items()},
                "import_errors": dict(registry.IMPORT_ERRORS)}

    @app.get("/api/workflows")
    def workflows():
        return {"workspace": str(ws.root), "workflows": ws.list()}

    @app.get("/api/examples")
    def examples():
        d = examples_dir()
        out = []
        if d is not None:
            for f in sorted(d.glob("*.json")):
                info = _workflow_info(f)
                if info is not None:
                    out.append({"file": f.name, **info})
        return {"examples": out}

    def opened(doc: Document) -> dict:
        return doc.snapshot()

    @app.post("/api/docs/new")
    async def new_doc(request: Request):
        data = await body(request)
        wf = Workflow(str(data.get("name") or "untitled")[:200])
        return opened(docs.create(wf, None))

    @app.post("/api/docs/open")
    async def open_doc(request: Request):
        data = await body(request)
        if data.get("example"):
            d = examples_dir()
            name = str(data["example"])
            if d is None or "/" in name or "\\" in name or name.startswith(".") or not (d / name).is_file():
                raise EditError(f"there is no example '{name}'", status=404)
            wf = Workflow.load(d / name)
            wf.path = None
            return opened(docs.create(wf, None, example=name))
        full = ws.resolve(data.get("path", ""), must_exist=True)
        rel = ws.rel(full)
        existing = docs.by_path(rel)
        if existing is not None:
            return opened(existing)
        wf = Workflow.load(full)
        doc = docs.create(wf, rel)
        doc.engine.load_results(full.with_suffix(".results"))
        return opened(doc)

    @app.post("/api/docs/import")
    async def import_doc(request: Request):
        """A workflow sent by a tab (e.g. after a server restart lost an unsaved document)."""
        data = await body(request)
        wf = Workflow.from_json(data.get("workflow"))
        path = data.get("path")
        if path:
            full = ws.resolve(path)
            rel = ws.rel(full)
            existing = docs.by_path(rel)
            if existing is not None:
                return opened(existing)
            doc = docs.create(wf, rel)
            if full.with_suffix(".results").is_dir():
                doc.engine.load_results(full.with_suffix(".results"))
        else:
            doc = docs.create(wf, None, example=data.get("example"))
        doc.dirty = bool(data.get("dirty", False))
        return opened(doc)

    @app.get("/api/docs/{doc_id}")
    def get_doc(doc_id: str):
        return docs.get(doc_id).snapshot()

    def _save(doc: Document, full: Path) -> dict:
        with doc.lock:
            full.parent.mkdir(parents=True, exist_ok=True)
            doc.workflow.save(full)
            doc.engine.save_results(full.with_suffix(".results"))
            doc.path = ws.rel(full)
            doc.example = None
            doc.dirty = False
            doc.version += 1
        snap = doc.snapshot()
        hub.publish(doc.id, {"type": "graph", "doc": snap})
        return snap

    @app.post("/api/docs/{doc_id}/save")
    async def save_doc(doc_id: str):
        doc = docs.get(doc_id)
        if not doc.path:
            raise EditError("this workflow has no file yet; use Save as", status=400)
        return _save(doc, ws.resolve(doc.path))

    @app.post("/api/docs/{doc_id}/save_as")
    async def save_as(doc_id: str, request: Request):
        data = await body(request)
        doc = docs.get(doc_id)
        full = ws.resolve(data.get("path", ""))
        other = docs.by_path(ws.rel(full))
        if other is not None and other is not doc:
            raise EditError(f"'{ws.rel(full)}' is open in another tab as a different workflow; close it first",
                            status=409)
        if full.exists() and not data.get("overwrite", False):
            raise EditError(f"'{ws.rel(full)}' exists already; choose another name or overwrite it", status=409)
        return _save(doc, full)

    # ------------------------------------------------------------------ edits and runs
    @app.post("/api/docs/{doc_id}/edit")
    async def edit(doc_id: str, request: Request):
        data = await body(request)
        ops = data.get("ops")
        if not isinstance(ops, list) or not ops or not all(isinstance(o, dict) for o in ops):
            raise EditError("'ops' must be a non-empty list of edit operations", status=400)
        if len(ops) > 5000:
            raise EditError("at most 5000 edit operations at once", status=413)
        doc = docs.get(doc_id)
        return await asyncio.to_thread(doc.edit, ops)

    @app.post("/api/docs/{doc_id}/validate")
    async def validate(doc_id: str, request: Request):
        """Field-level messages for a config dialog, without changing anything."""
        from .session import config_errors

        data = await body(request)
        doc = docs.get(doc_id)
        entry = doc.workflow._node(str(data.get("node", "")))
        cfg = data.get("config")
        if not isinstance(cfg, dict):
            raise EditError("'config' must be an object of option values", status=400)
        return {"errors": config_errors(registry.get(entry.type), cfg)}

    @app.post("/api/docs/{doc_id}/execute")
    async def execute(doc_id: str, request: Request):
        data = await body(request)
        nodes_ = data.get("nodes")
        if nodes_ is not None and (not isinstance(nodes_, list) or not all(isinstance(n, str) for n in nodes_)):
            raise EditError("'nodes' must be a list of node ids", status=400)
        docs.get(doc_id).execute(nodes_)
        return {"started": True}

    @app.post("/api/docs/{doc_id}/cancel")
    def cancel(doc_id: str):
        docs.get(doc_id).cancel()
        return {"cancelled": True}

    @app.post("/api/docs/{doc_id}/stop")
    async def stop(doc_id: str, request: Request):
        data = await body(request)
        docs.get(doc_id).stop(str(data.get("node", "")))
        return {"stop_requested": True}

    @app.post("/api/docs/{doc_id}/reset")
    async def reset(doc_id: str, request: Request):
        data = await body(request)
        node = data.get("node")
        doc = docs.get(doc_id)
        await asyncio.to_thread(doc.reset, str(node) if node else None)
        return doc.snapshot()

    # ------------------------------------------------------------------ views
    def _port(doc: Document, nid: str, port: str):
        entry = doc.workflow._node(nid)
        cls = registry.get(entry.type)
        for i, p in enumerate(cls.outputs):
            if p.name == port or str(i) == port:
                st = doc.engine.status.get(nid)
                obj = st.outputs[i] if st is not None and st.outputs is not None else None
                spec = st.specs[i] if st is not None and i < len(st.specs) else None
                return p, obj, spec, st
        names = ", ".join(p.name for p in cls.outputs) or "none"
        raise EditError(f"node '{nid}' has no output port '{port}' (its ports: {names})", status=404)

    @app.get("/api/docs/{doc_id}/nodes/{nid}/ports/{port}/table")
    def view_table(doc_id: str, nid: str, port: str, offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=200)):
        doc = docs.get(doc_id)
        p, obj, _, _ = _port(doc, nid, port)
        if obj is None:
            raise EditError(f"node '{nid}' has not been executed; execute it to see its output", status=409)
        if p.type != "table":
            raise EditError(f"port '{p.name}' carries a {p.type}, not a table", status=400)
        return views.table_view(obj, offset, limit)

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
        entry = doc.workflow._node(nid)
        st = doc.engine.status.get(nid)
        if st is None or st.outputs is None:
            raise EditError(f"node '{nid}' has not been executed; execute it to see its scores", status=409)
        cls = registry.get(entry.type)
        tables = [(p.name, o) for p, o in zip(cls.outputs, st.outputs) if p.type == "table"]
        return views.scorer_view(tables, st.scalars)

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
        return {"node": nid, "message": st.message if st else "", "traceback": st.traceback if st else "",
                "lines": [x for x in doc.logs if x["node"] == nid]}

    @app.get("/api/docs/{doc_id}/log")
    def doc_log(doc_id: str):
        return {"lines": list(docs.get(doc_id).logs)}

    # ------------------------------------------------------------------ websocket
    @app.websocket("/api/ws")
    async def websocket(sock: WebSocket):
        given = sock.query_params.get("token") or sock.headers.get(TOKEN_HEADER)
        if not token_ok(given):
            await sock.close(code=4401, reason="a valid token is needed")
            return
        doc_id = sock.query_params.get("doc", "")
        await sock.accept()
        doc = docs.by_id.get(doc_id)
        if doc is None:
            await sock.send_json({"type": "error", "code": "no_doc",
                                  "error": f"there is no open workflow '{doc_id}'"})
            await sock.close()
            return
        q: asyncio.Queue = asyncio.Queue()
        hub.add(doc_id, q)
        await sock.send_json({"type": "hello", "doc": doc.snapshot()})

        async def pump():
            while True:
                msg = await q.get()
                if msg.get("type") == "state":
                    msg = {**msg, "status": doc.status_json(msg["node"])}
                await sock.send_json(msg)

        sender = asyncio.create_task(pump())
        try:
            while True:
                text = await sock.receive_text()
                if len(text) > MAX_WS_MESSAGE:
                    await sock.close(code=1009, reason="message too big")
                    break
                if text == "ping":
                    await sock.send_text("pong")
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            hub.remove(doc_id, q)

    # ------------------------------------------------------------------ the page
    @app.get("/", include_in_schema=False)
    def index():
        page = STATIC / "index.html"
        if page.is_file():
            return FileResponse(page, headers={"Cache-Control": "no-cache"})
        return HTMLResponse("<h1>DeepNodes</h1><p>The editor is not built: run <code>make web</code> "
                            "(or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>).</p>", status_code=503)

    @app.get("/assets/{name}", include_in_schema=False)
    def asset(name: str):
        full = (STATIC / "assets" / name).resolve()
        if (STATIC / "assets").resolve() not in full.parents or not full.is_file():
            return JSONResponse({"error": "not found"}, status_code=404)
        return FileResponse(full, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    @app.get("/favicon.svg", include_in_schema=False)
    def favicon():
        f = STATIC / "favicon.svg"
        return FileResponse(f) if f.is_file() else JSONResponse({}, status_code=404)

    app.add_middleware(BodyLimit)
    return app


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
                out.append({"step": row.get("step"), "epoch": row.get("epoch", i), "values": vals, "time": None})
            return out
    return []


def serve(args: Any) -> int:
    """Start the editor (`deepnodes serve`)."""
    import uvicorn

    workspace = Path(getattr(args, "workspace", None) or ".")
    if not workspace.is_dir():
        print(f"error: the workspace folder '{workspace}' does not exist", file=sys.stderr)
        return 2
    open_rel = None
    wf_arg = getattr(args, "workflow", None)
    if wf_arg:
        p = Path(wf_arg).resolve()
        try:
            open_rel = p.relative_to(workspace.resolve()).as_posix()
        except ValueError:
            print(f"error: the workflow '{wf_arg}' is not inside the workspace '{workspace}'; "
                  "pass --workspace with a folder that holds it", file=sys.stderr)
            return 2
        if not p.is_file():
            print(f"error: there is no workflow file '{wf_arg}'", file=sys.stderr)
            return 2
    app = create_app(workspace, getattr(args, "token", None), open_rel)
    host, port = args.host, int(args.port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}: anyone who can reach this address and has the token can run code",
              file=sys.stderr)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/?token={app.state.token}"
    if open_rel:
        from urllib.parse import quote

        url += f"&open={quote(open_rel)}"
    if not (STATIC / "index.html").is_file():
        print("note: the editor's page is not built; run `make web`", file=sys.stderr)
    print(f"DeepNodes editor (workspace {workspace.resolve()}):\n    {url}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", ws_max_size=MAX_WS_MESSAGE,
                limit_concurrency=200)
    return 0
