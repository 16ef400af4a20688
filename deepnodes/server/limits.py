"""What every request passes before a route sees it: the token, the body's size and time, and safe JSON.

`Guard` is a plain ASGI middleware, the outermost layer of the app. For an `/api/` request it checks the
token from the headers and the query string *before* reading a byte of the body, so a client without the token
costs one 401 and a closed connection. With the token, the body is read under three bounds: `MAX_BODY` bytes,
`BODY_TIMEOUT` seconds for the whole body, and at most `MAX_SLOW_BODIES` slow bodies waited for at once
(a body that arrives within `FAST` seconds never waits for a slot). A JSON
body is then checked once for every route: valid JSON, no NaN or Infinity (JSON has neither; Python's parser
takes them and the document would then fail to serialise), integers within 64 bits, nesting at most `MAX_DEPTH`.

`GuardedH11` is the HTTP protocol the server runs: a connection must send its request head within
`HEAD_TIMEOUT` seconds, and when `MAX_CONNECTIONS` are open the oldest idle one is closed for a new one, so
slow or idle clients cannot use up the server (uvicorn's own `limit_concurrency` would refuse everyone instead).
"""
from __future__ import annotations

import asyncio
import json
import math
import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_BODY = 4 * 1024 * 1024  # bytes in one request (a workflow file is a few kB)
BODY_TIMEOUT = 10.0  # seconds to send a whole body
MAX_SLOW_BODIES = 16  # slow bodies waited for at the same time
FAST = 0.25  # seconds after which a body that has not arrived counts as slow
MAX_DEPTH = 64  # nesting of a JSON body (a workflow needs about 6)
INT_LIMIT = 2 ** 63
HEAD_TIMEOUT = 10.0  # seconds for a connection to send its request line and headers
MAX_CONNECTIONS = 256
TOKEN_HEADER = "x-deepnodes-token"
NO_TOKEN = "a valid token is needed: open the URL that `deepnodes serve` printed"


class BadJSON(ValueError):
    """A request body that is not acceptable JSON; the message is the sentence the client sees."""


def _constant(name: str) -> Any:
    raise BadJSON(f"the request holds {name}, which JSON does not allow; send finite numbers")


def _float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise BadJSON(f"the number {text[:40]} is too large; send finite numbers")
    return v


def _int(text: str) -> int:
    if len(text) > 20 or abs(int(text)) >= INT_LIMIT:
        raise BadJSON(f"the integer {text[:40]}{'...' if len(text) > 40 else ''} is beyond 64 bits")
    return int(text)


def _depth(value: Any) -> int:
    """The nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((x, d + 1) for x in v)
    return deepest


def parse_json(raw: bytes | str, what: str = "the request body") -> Any:
    """JSON as the server accepts it; raises `BadJSON` with one sentence otherwise."""
    try:
        data = json.loads(raw, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except BadJSON:
        raise
    except RecursionError:
        raise BadJSON(f"{what} is nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise BadJSON(f"{what} is not valid JSON ({str(e)[:120]})") from None
    if _depth(data) > MAX_DEPTH:
        raise BadJSON(f"{what} is nested more than {MAX_DEPTH} levels deep")
    return data


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None (iterative, for any depth)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, (dict, list, tuple)):
        return value
    root: list = [value]
    stack = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        v = parent[key]
        if isinstance(v, float) and not math.isfinite(v):
            parent[key] = None
        elif isinstance(v, dict):
            parent[key] = dict(v)
            stack.extend((parent[key], k) for k in v)
        elif isinstance(v, (list, tuple)):
            parent[key] = list(v)
            stack.extend((parent[key], i) for i in range(len(v)))
    return root[0]


def dumps(value: Any) -> str:
    """Strict JSON text: non-finite numbers become null instead of the invalid `NaN`."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(finite(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)


class SafeJSONResponse(JSONResponse):
    """The app's response class: never fails on a NaN somewhere in a document or a view."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def given_token(scope: Scope) -> str | None:
    """The token a request carries: query `?token=`, header `X-DeepNodes-Token` or `Authorization: Bearer`."""
    q = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    if q and q[0]:
        return q[0]
    headers = {k.lower(): v for k, v in scope.get("headers") or []}
    h = headers.get(TOKEN_HEADER.encode())
    if h:
        return h.decode("latin-1")
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


def token_ok(given: str | None, token: str) -> bool:
    return bool(given) and secrets.compare_digest(given.encode("utf-8", "replace"), token.encode())


def error(status: int, message: str, close: bool = False) -> JSONResponse:
    return SafeJSONResponse({"error": message, "errors": []}, status_code=status,
                            headers={"connection": "close"} if close else None)


class Guard:
    """Token first, then a bounded body read, then one JSON check for every `/api/` request."""

    def __init__(self, app: ASGIApp, token: str, limit: int = MAX_BODY, timeout: float = BODY_TIMEOUT,
                 slow_bodies: int = MAX_SLOW_BODIES):
        self.app = app
        self.token = token
        self.limit = limit
        self.timeout = timeout
        self.slow = 0  # bodies being waited for past FAST seconds
        self.slow_bodies = slow_bodies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        if not token_ok(given_token(scope), self.token):
            return await error(401, NO_TOKEN, close=True)(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        cl = headers.get(b"content-length")
        if cl is not None:
            try:
                declared = int(cl)
            except ValueError:
                return await error(400, "the Content-Length header is not a number", close=True)(scope, receive, send)
            if declared > self.limit:
                return await error(413, f"the request is larger than {self.limit // 1024} kB",
                                   close=True)(scope, receive, send)
        if (cl is None or cl.strip() == b"0") and headers.get(b"transfer-encoding") is None:
            return await self.app(scope, _replay(b"", receive), send)  # HTTP/1.1: no body follows
        raw = await self._bounded_read(receive)
        if isinstance(raw, JSONResponse):
            return await raw(scope, receive, send)
        if raw is None:  # the client went away
            return None
        if isinstance(raw, int):
            return await error(413, f"the request is larger than {self.limit // 1024} kB",
                               close=True)(scope, receive, send)
        if raw.strip():
            try:
                parse_json(raw)
            except BadJSON as e:
                return await error(400, str(e))(scope, receive, send)
            # every API body is JSON, whatever type the client declared (`curl -d` says form data)
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
                     + [(b"content-type", b"application/json")]}
        await self.app(scope, _replay(raw, receive), send)

    async def _bounded_read(self, receive: Receive):
        """The body, or a response refusing it. A body that has not arrived after `FAST` seconds is slow; at most
        `slow_bodies` slow ones are waited for (each at most `timeout` seconds), so fast requests never queue."""
        task = asyncio.ensure_future(self._read(receive))
        try:
            done, _ = await asyncio.wait({task}, timeout=FAST)
            if done:
                return task.result()
            if self.slow >= self.slow_bodies:
                return error(503, f"{self.slow_bodies} requests are sending their bodies slowly already; "
                                  "try again", close=True)
            self.slow += 1
            try:
                return await asyncio.wait_for(task, max(self.timeout - FAST, 0.01))
            except asyncio.TimeoutError:
                return error(408, f"the request body did not arrive within {self.timeout:g} seconds", close=True)
            finally:
                self.slow -= 1
        finally:
            task.cancel()

    async def _read(self, receive: Receive) -> bytes | int | None:
        chunks: list[bytes] = []
        seen = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                return None
            part = msg.get("body", b"")
            seen += len(part)
            if seen > self.limit:
                return seen
            chunks.append(part)
            if not msg.get("more_body", False):
                return b"".join(chunks)


def _replay(raw: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replayed


def guarded_protocol(base: str = "h11"):
    """uvicorn's h11 protocol (or `base="httptools"`: its C parser, which the workflow services use for speed)
    with a deadline for the request head and a bound on open connections."""
    if base == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as H11Protocol
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11(H11Protocol):
        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._opened = self.loop.time()
            self._arm_head_timer()
            if sum(not _closing(c) for c in self.connections) > MAX_CONNECTIONS:
                idle = [c for c in self.connections if c is not self and _idle(c) and not _closing(c)]
                victim = min(idle, key=lambda c: c._opened, default=None)
                (victim or self).transport.close()

        def _arm_head_timer(self) -> None:
            self._armed_for = self.cycle
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_timeout)

        def _head_timeout(self) -> None:
            if self.cycle is self._armed_for and _idle(self) and not self.transport.is_closing():
                self.transport.close()  # no request head arrived in time

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._head_timer.cancel()
                self._arm_head_timer()

        def handle_websocket_upgrade(self, *event) -> None:
            self._head_timer.cancel()  # the WebSocket protocol takes the connection over
            super().handle_websocket_upgrade(*event)

        def connection_lost(self, exc) -> None:
            self._head_timer.cancel()
            super().connection_lost(exc)

    def _closing(c) -> bool:
        t = getattr(c, "transport", None)
        return t is None or t.is_closing()

    def _idle(c) -> bool:
        """An HTTP connection with no request in progress (WebSocket connections are never idle)."""
        if not isinstance(c, GuardedH11):
            return False
        return c.cycle is None or c.cycle.response_complete

    return GuardedH11
