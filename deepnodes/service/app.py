"""`deepnodes serve-workflow`: a workflow's Service Input → ... → Service Output as a FastAPI service.

    POST /predict   {"rows": [{...}, ...]} (images as base64 PNG/JPEG) or multipart form fields / file uploads
    GET  /schema    the request and response JSON Schemas, from the Service Input / Output specs, and the example
    GET  /health    {"status": "ok", ...}
    GET  /metrics   Prometheus: requests, errors, latency histogram, batch sizes
    GET  /docs      the OpenAPI documentation (its request body is the /schema one), Swagger UI served offline

A bad request is a 4xx with one sentence naming the row and column; a failing node a 500 with a sentence; the
service keeps running. Requests go through `batcher.Batcher` (micro-batches for row-wise segments).
"""
# no `from __future__ import annotations`: FastAPI reads the handlers' annotations (Request) at runtime
import time
from typing import Any

from .batcher import Batcher
from .decode import RequestError, checked_rows, decode_rows, table_rows
from .schema import rows_schema, output_schema
from .segment import NodeFailed, Segment

MAX_BODY = 16 * 1024 * 1024  # bytes of one request


def _metrics():
    from prometheus_client import CollectorRegistry, Counter, Histogram

    reg = CollectorRegistry()
    return reg, {
        "requests": Counter("deepnodes_service_requests", "requests to /predict by status class",
                            ["status"], registry=reg),
        "errors": Counter("deepnodes_service_errors", "refused or failed /predict requests by kind",
                          ["kind"], registry=reg),
        "latency": Histogram("deepnodes_service_request_seconds", "time to answer /predict", registry=reg,
                             buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10)),
        "batch": Histogram("deepnodes_service_batch_rows", "rows per segment run (micro-batch)", registry=reg,
                           buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)),
    }


def _gathered(reg):
    """This process's metrics, or every worker's (prometheus-client's multi-process mode, `--workers` > 1)."""
    import os

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return reg
    from prometheus_client import CollectorRegistry, multiprocess

    every = CollectorRegistry()
    multiprocess.MultiProcessCollector(every)
    return every


def create_app(segment: Segment, token: str | None = None, max_batch: int = 32, max_wait_ms: float = 0.0,
               max_body: int = MAX_BODY, fast: bool = True):
    from fastapi import Request
    from fastapi.responses import PlainTextResponse
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from deepnodes.server.limits import BadJSON, SafeJSONResponse, given_token, parse_json, token_ok

    name = segment.workflow.name
    reg, m = _metrics()
    batcher = Batcher(segment, max_batch=max_batch, max_wait_ms=max_wait_ms, observe=m["batch"].observe, fast=fast)
    batcher.warm()
    in_schema = rows_schema(segment.columns, segment.max_rows, "Request")
    out_schema = output_schema(segment.output_spec(), "Prediction")
    example = {"rows": [segment.example]}
    error_schema = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    kinds = {c.name: c.kind for c in segment.columns}
    form_schema = {"type": "object", "required": [c.name for c in segment.columns],
                   "properties": {c.name: ({"type": "string", "format": "binary"} if c.kind == "image" else
                                           {"type": "string"}) for c in segment.columns}}

    app = _offline_docs_app(title=f"{name} (DeepNodes service)", version="1",
                            description=segment.workflow.description or f"The workflow '{name}' served by DeepNodes.")

    def refusal(message: str, kind: str) -> dict:
        m["errors"].labels(kind).inc()
        return {"error": message}

    async def respond(get_rows) -> tuple[int, dict]:
        """(status, JSON body) for the rows `get_rows()` reads: the one place /predict is answered (the route
        and the lean JSON path both call it), with the metrics."""
        t0 = time.perf_counter()
        try:
            rows = await get_rows()
            if batcher.rows:  # the bundle runner: rows in, rows out, each image decoded once (by its check)
                body = {"rows": await batcher.submit_rows(checked_rows(segment.columns, rows, segment.max_rows))}
            else:
                out = await batcher.submit(decode_rows(segment.columns, rows, segment.max_rows))
                body = {"rows": table_rows(out, segment.output_columns or None)}
            status = 200
        except RequestError as e:
            status, body = e.status, refusal(str(e), "bad_request")
        except NodeFailed as e:
            status, body = 500, refusal(str(e), "node_failed")
        except Exception as e:  # noqa: BLE001 - the service keeps running; one sentence, no traceback
            status, body = 500, refusal(f"the service failed: {type(e).__name__}: {str(e)[:300]}", "internal")
        m["requests"].labels(f"{status // 100}xx").inc()
        m["latency"].observe(time.perf_counter() - t0)
        return status, body

    app.add_middleware(_LeanPredict, respond=respond, max_body=max_body, parse=lambda raw: _json_rows(
        raw, parse_json, BadJSON))
    if token is not None:  # added last: outside the lean path, so it guards it too
        app.add_middleware(_TokenGuard, token=token, given=given_token, ok=token_ok, refuse=SafeJSONResponse)

    @app.post("/predict", summary="predictions for rows", openapi_extra={
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": in_schema, "example": example},
            "multipart/form-data": {"schema": form_schema}}},
        "responses": {"200": {"description": "one row per request row",
                              "content": {"application/json": {"schema": out_schema}}},
                      "4XX": {"description": "a bad request: one sentence naming the row and column",
                              "content": {"application/json": {"schema": error_schema}}},
                      "500": {"description": "a node failed: one sentence naming it",
                              "content": {"application/json": {"schema": error_schema}}}}})
    async def predict(request: Request):
        status, body = await respond(lambda: _rows(request, max_body, kinds, parse_json, BadJSON))
        return SafeJSONResponse(body, status_code=status)

    @app.get("/schema", summary="the request and response schemas")
    async def schema() -> dict:
        return {"workflow": name, "input": in_schema, "output": out_schema, "example": example,
                "columns": [c.model_dump(exclude_none=True) for c in segment.columns],
                "max_rows": segment.max_rows}

    @app.get("/health", summary="liveness")
    async def health() -> dict:
        return {"status": "ok", "workflow": name, "micro_batching": batcher.batching, "fast_path": batcher.fast,
                "runner": batcher.runner}

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics():
        return PlainTextResponse(generate_latest(_gathered(reg)).decode(), media_type=CONTENT_TYPE_LATEST)

    @app.on_event("shutdown")
    async def _stop() -> None:
        batcher.close()

    return app


DOCS_ASSETS = "/docs-assets"  # Swagger UI's and ReDoc's own files, served from the installed package


def _offline_docs_app(**kw):
    """A FastAPI app whose /docs and /redoc pages load Swagger UI / ReDoc from this service, not from a CDN (the
    files `fastapi-offline` ships), so the documentation works on a machine without internet."""
    from fastapi_offline import FastAPIOffline

    return FastAPIOffline(static_url=DOCS_ASSETS, **kw)


class _TokenGuard:
    """Refuses requests without the token (a plain ASGI middleware: `@app.middleware("http")` runs each request
    through extra tasks and streams, ~0.3 ms)."""

    def __init__(self, app, token: str, given, ok, refuse):
        self.app, self.token, self.given, self.ok, self.refuse = app, token, given, ok, refuse

    async def __call__(self, scope, receive, send):
        public = scope.get("path") == "/health" or scope.get("path", "").startswith(DOCS_ASSETS + "/")
        if scope["type"] == "http" and not public and not self.ok(self.given(scope), self.token):
            resp = self.refuse({"error": "this service needs its token: send 'Authorization: Bearer TOKEN'"},
                               status_code=401)
            return await resp(scope, receive, send)
        return await self.app(scope, receive, send)


def _too_large(declared: str | None, max_body: int) -> None:
    if declared is not None:
        if not declared.isdigit():
            raise RequestError("the Content-Length header is not a number", 400)
        if int(declared) > max_body:
            raise RequestError(f"the request body is larger than {max_body // (1024 * 1024)} MiB", 413)


async def _rows(request, max_body: int, kinds: dict[str, str], parse_json, BadJSON) -> list[Any]:
    """The request's rows: a JSON body `{"rows": [...]}`, or form fields (files for images; repeat for rows)."""
    _too_large(request.headers.get("content-length"), max_body)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        return await _form_rows(request, max_body, kinds)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > max_body:
            raise RequestError(f"the request body is larger than {max_body // (1024 * 1024)} MiB", 413)
    return _json_rows(bytes(raw), parse_json, BadJSON)


def _json_rows(raw: bytes, parse_json, BadJSON) -> Any:
    try:
        body = parse_json(raw)
    except BadJSON as e:
        raise RequestError(str(e), 400) from None
    if not isinstance(body, dict) or "rows" not in body:
        raise RequestError('the body must be a JSON object {"rows": [{column: value, ...}, ...]}', 422)
    extra = [k for k in body if k != "rows"]
    if extra:
        raise RequestError(f"the body has the key '{str(extra[0])[:100]}'; only 'rows' is taken", 422)
    return body["rows"]


class _Gone(BaseException):
    """The client went away before its body arrived."""


class _LeanPredict:
    """POST /predict with a JSON body answered by the route's own `respond`, without FastAPI's routing, request
    object and response classes around it (~0.1 ms of CPU per request: A/B in docs/benchmarks.md). Other
    requests (multipart forms, other paths) go to FastAPI; the OpenAPI document is the route's."""

    def __init__(self, app, respond, max_body: int, parse):
        self.app, self.respond, self.max_body, self.parse = app, respond, max_body, parse

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        head = dict(scope["headers"])
        if head.get(b"content-type", b"").split(b";")[0].strip().lower() != b"application/json":
            return await self.app(scope, receive, send)

        async def rows():
            _too_large(head[b"content-length"].decode("latin-1") if b"content-length" in head else None,
                       self.max_body)
            raw, more = b"", True
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    raise _Gone
                raw += msg.get("body", b"")
                more = msg.get("more_body", False)
                if len(raw) > self.max_body:
                    raise RequestError(f"the request body is larger than {self.max_body // (1024 * 1024)} MiB", 413)
            return self.parse(raw)

        try:
            status, body = await self.respond(rows)
        except _Gone:
            return
        from deepnodes.server.limits import dumps

        payload = dumps(body).encode("utf-8")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


async def _form_rows(request, max_body: int, kinds: dict[str, str]) -> list[dict]:
    import json

    form = await request.form(max_files=1024, max_fields=4096, max_part_size=max_body)
    values: dict[str, list] = {}
    for key, v in form.multi_items():
        if hasattr(v, "read"):  # an uploaded file
            values.setdefault(key, []).append(await v.read())
        else:
            values.setdefault(key, []).append(v)
    counts = {k: len(v) for k, v in values.items()}
    n = max(counts.values(), default=0)
    rows: list[dict] = [{} for _ in range(n)]
    for k, vals in values.items():
        if len(vals) != n:
            raise RequestError(f"form field '{k[:100]}' is sent {len(vals)} times but others {n} times; "
                               "send each column once per row", 422)
        for i, v in enumerate(vals):
            if isinstance(v, str) and kinds.get(k) in ("number", "tensor"):
                try:  # numbers and tensors arrive as text: JSON where it parses, else the text (refused as such)
                    v = json.loads(v)
                except ValueError:
                    pass
            rows[i][k] = v
    return rows
