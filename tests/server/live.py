"""A real `deepnodes serve` server (uvicorn with the guarded protocol) in a thread on 127.0.0.1, and raw-socket
helpers, for tests that need the network layer (slow clients, connection limits) that TestClient skips."""
from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from pathlib import Path

TOKEN = "live-token-456"


@contextlib.contextmanager
def live_server(workspace: Path, body_timeout: float = 1.0, **kw):
    """Yields (host, port) of a running server; stops it on exit."""
    import uvicorn

    from deepnodes.server.app import create_app
    from deepnodes.server.limits import guarded_protocol
    from deepnodes.server.serve import bind

    sock = bind("127.0.0.1", _free_port())
    app = create_app(workspace, TOKEN, body_timeout=body_timeout, **kw)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", http=guarded_protocol()))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    t0 = time.monotonic()
    while not server.started:
        if time.monotonic() - t0 > 20:
            raise RuntimeError("the test server did not start in 20 s")
        time.sleep(0.02)
    try:
        yield sock.getsockname()[:2]
    finally:
        server.should_exit = True
        t.join(10)
        sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(addr, method: str, path: str, body=None, token: str | None = TOKEN, timeout: float = 5.0,
            headers: dict | None = None) -> tuple[int, dict | str]:
    """One HTTP/1.1 request on a fresh connection: (status, JSON body or text)."""
    raw = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    raw = raw.encode() if isinstance(raw, str) else raw
    h = {"Host": "127.0.0.1", "Connection": "close", **(headers or {})}
    if token:
        h["X-DeepNodes-Token"] = token
    if raw is not None:
        h.setdefault("Content-Type", "application/json")
        h["Content-Length"] = str(len(raw))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    with socket.create_connection(addr, timeout=timeout) as s:
        if raw is not None and len(raw) > 1 << 20:  # like `Expect: 100-continue`: an early refusal is read first
            s.sendall(head.encode())
            if select.select([s], [], [], 0.5)[0]:
                return parse_response(_read_all(s))
            s.sendall(raw)
        else:
            s.sendall(head.encode() + (raw or b""))
        data = _read_all(s)
    return parse_response(data)


def _read_all(s: socket.socket) -> bytes:
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def parse_response(data: bytes) -> tuple[int, dict | str]:
    if not data:
        return 0, ""
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")


def _unchunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out.append(rest[:n])
        rest = rest[n + 2:]
    return b"".join(out)


def open_stalled(addr, n: int, token: str | None, declared: int = 1000, head_only: bool = False) -> list:
    """`n` connections that declare a body of `declared` bytes and never send it (or never finish the head)."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(addr, timeout=5)
        head = "POST /api/docs/new HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        if token:
            head += f"X-DeepNodes-Token: {token}\r\n"
        head += f"Content-Length: {declared}\r\n"
        s.sendall(head.encode() if head_only else (head + "\r\n").encode())
        socks.append(s)
    return socks
