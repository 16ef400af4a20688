"""The editor's HTTP and WebSocket server (FastAPI): the app is assembled here.

`deepnodes serve [--host 127.0.0.1] [--port 8765] [--workspace DIR] [--allow-path DIR] [WORKFLOW]` prints a URL
with a token (`serve.py`). The token grants everything the editor can do, running code included (a workflow may
hold Python nodes): every API call and the WebSocket need it (query `?token=`, header `X-DeepNodes-Token` or
`Authorization: Bearer`), checked before a request's body is read (`limits.Guard`). Workflow files are read and
written only inside the workspace folder (`workspace.py`); node options that name files or folders are confined
to it and the `--allow-path` folders (`confine.py`). Routes: documents (`routes_docs.py`), views
(`routes_views.py`), the catalogue, the WebSocket and the page (here). The engine runs in a background thread per
workflow; the server only asks it to configure, run, cancel, stop and reset.
"""
from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse

from deepnodes.core import WorkflowError, registry
from deepnodes.core.ports import PORT_TYPES

from . import routes_deploy, routes_docs, routes_text, routes_views
from .bodies import validation_message
from .confine import PathPolicy
from .hub import Hub
from .limits import BODY_TIMEOUT, Guard, SafeJSONResponse, dumps, given_token, token_ok
from .session import Documents, EditError, cut_echoes
from .workspace import Workspace, workflow_info

MAX_WS_MESSAGE = 64 * 1024
STATIC = Path(__file__).parent / "static"
examples_dir = routes_docs.examples_dir


def create_app(workspace: str | Path = ".", token: str | None = None, workflow: str | None = None,
               allow_paths: list[str | Path] | None = None, body_timeout: float = BODY_TIMEOUT,
               debug: bool = False) -> FastAPI:
    """The FastAPI app. `token=None` makes a random token (read it from `app.state.token`)."""
    ws = Workspace(Path(workspace))
    if not ws.root.is_dir():
        raise ValueError(f"the workspace folder '{workspace}' does not exist")
    hub = Hub()
    policy = PathPolicy(ws.root, allow_paths)
    docs = Documents(hub, ws.root, policy)
    token = token or secrets.token_urlsafe(24)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        hub.loop = asyncio.get_running_loop()
        from deepnodes.h2o import session as h2o_session  # stdlib only; h2o itself loads when a node needs it

        h2o_session.keep_between_runs(True)  # the editor keeps an H2O session between runs while it lives
        yield
        for d in list(docs.by_id.values()):
            d.cancel()
        h2o_session.keep_between_runs(False)
        h2o_session.shutdown()

    app = FastAPI(title="DeepNodes editor", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None,
                  default_response_class=SafeJSONResponse)
    app.state.token = token
    app.state.docs = docs
    app.state.hub = hub
    app.state.workspace = ws
    app.state.policy = policy

    @app.exception_handler(EditError)
    async def edit_error(request: Request, e: EditError):
        return SafeJSONResponse({"error": e.message, "errors": e.errors, "op": e.op}, status_code=e.status)

    @app.exception_handler(WorkflowError)
    async def wf_error(request: Request, e: WorkflowError):
        return SafeJSONResponse({"error": cut_echoes(str(e)), "errors": []}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, e: RequestValidationError):
        errs = list(e.errors())
        fields = [{"field": ".".join(str(x) for x in err.get("loc", ())[1:]), "message": str(err.get("msg", ""))}
                  for err in errs[:20]]
        return SafeJSONResponse({"error": cut_echoes(validation_message(errs)), "errors": fields}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception):
        """A bug, not bad input: one sentence for the editor, the traceback in the server's log."""
        import traceback

        detail = traceback.format_exc() if debug else f"{type(e).__name__}: {str(e)[:300]} (--debug shows where)"
        print(f"deepnodes serve: {request.method} {request.url.path[:200]} failed: {detail}", file=sys.stderr, flush=True)
        return SafeJSONResponse({"error": cut_echoes(f"the server failed on this request ({type(e).__name__}: {e}); "
                                                     "its log has the details"), "errors": []}, status_code=500)

    # ------------------------------------------------------------------ catalogue, files, examples
    @app.get("/api/info")
    def info():
        from deepnodes import __version__

        return {"version": __version__, "workspace": str(ws.root), "open_at_start": workflow,
                "allowed_paths": [str(r) for r in policy.roots]}

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
                info = workflow_info(f)
                if info is not None:
                    out.append({"file": f.name, **info})
        return {"examples": out}

    routes_docs.add_routes(app, ws, docs, hub)
    routes_views.add_routes(app, docs)
    routes_text.add_routes(app, docs)
    routes_deploy.add_routes(app, docs)

    # ------------------------------------------------------------------ websocket
    @app.websocket("/api/ws")
    async def websocket(sock: WebSocket):
        if not token_ok(given_token(sock.scope), token):
            await sock.close(code=4401, reason="a valid token is needed")
            return
        doc_id = sock.query_params.get("doc", "")
        await sock.accept()
        doc = docs.by_id.get(doc_id)
        if doc is None:
            await sock.send_text(dumps({"type": "error", "code": "no_doc",
                                        "error": f"there is no open workflow '{doc_id[:200]}'"}))
            await sock.close()
            return
        q: asyncio.Queue = asyncio.Queue()
        q.client = sock.query_params.get("client", "")[:100]  # the page it belongs to (see the close route)
        hub.add(doc_id, q)
        await sock.send_text(dumps({"type": "hello", "doc": doc.snapshot()}))

        async def pump():
            while True:
                msg = await q.get()
                if msg.get("type") == "state":
                    msg = {**msg, "status": doc.status_json(msg["node"])}
                await sock.send_text(dumps(msg))

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
            return SafeJSONResponse({"error": "not found"}, status_code=404)
        return FileResponse(full, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    @app.get("/favicon.svg", include_in_schema=False)
    def favicon():
        f = STATIC / "favicon.svg"
        return FileResponse(f) if f.is_file() else SafeJSONResponse({}, status_code=404)

    app.add_middleware(Guard, token=token, timeout=body_timeout)
    return app


def serve(args) -> int:
    """Start the editor (`deepnodes serve`); see `serve.py`."""
    from .serve import serve as run

    return run(args)


__all__ = ["create_app", "serve", "examples_dir"]
