"""Hostile requests against a real editor server, counted: `server_cases()` -> (cases, clean, failures).

For the "server" row of `benchmarks/reliability.py`. Each case sends one kind of bad request to a server on
127.0.0.1 (a fresh workspace, with a folder beside it that must never be touched) and is clean when the answer
is a 4xx whose JSON `error` is one sentence, the server still answers a plain request at once, and nothing
outside the workspace changed. A 5xx, a hang, a traceback, a closed-without-answer or a file written outside
is a failure, described in one line.

    .venv/bin/python -m tests.server.hostile      # prints the counts and any failures
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from tests.server.live import TOKEN, live_server, open_stalled, request

Check = Callable[[tuple, str], None]


def _clean(status: int, body, codes=range(400, 500)) -> None:
    assert status in codes, f"answered {status}: {str(body)[:160]}"
    assert isinstance(body, dict) and isinstance(body.get("error"), str), f"no error sentence: {str(body)[:160]}"
    msg = body["error"]
    assert 5 < len(msg) < 600 and "Traceback" not in msg and "\n" not in msg, f"not one sentence: {msg[:160]}"


def _post(path: str, raw, codes=range(400, 500), **kw) -> Check:
    def check(addr, doc):
        _clean(*request(addr, "POST", path.replace("{doc}", doc), raw, **kw), codes=codes)
    return check


def _get(path: str, codes=range(400, 500), **kw) -> Check:
    def check(addr, doc):
        _clean(*request(addr, "GET", path.replace("{doc}", doc), **kw), codes=codes)
    return check


def _edit(op_json: str) -> Check:
    return _post("/api/docs/{doc}/edit", '{"ops": [%s]}' % op_json)


def _stalled(n: int, token, head_only=False) -> Check:
    def check(addr, doc):
        socks = open_stalled(addr, n, token, head_only=head_only)
        try:
            t0 = time.monotonic()
            status, _ = request(addr, "GET", f"/api/docs/{doc}", timeout=5)
            assert status == 200, f"a plain request got {status} beside {n} stalled clients"
            assert time.monotonic() - t0 < 5, f"a plain request waited {time.monotonic() - t0:.1f} s"
        finally:
            for s in socks:
                s.close()
    return check


def _node_path(path: str) -> Check:
    def check(addr, doc):
        status, body = request(addr, "POST", f"/api/docs/{doc}/edit", {"ops": [
            {"op": "add", "type": "deepnodes.data.CSVReader", "config": {"path": path}}]})
        assert status == 200, f"adding the node answered {status}"
        nid = body["created"][0]
        st = body["status"][nid]
        assert st["state"] == "idle" and "outside" in st["message"], f"the node was configured: {st['state']}"
        request(addr, "POST", f"/api/docs/{doc}/edit", {"ops": [{"op": "remove", "id": nid}]})
    return check


def _serve_port(port: str) -> Check:
    def check(addr, doc):
        code = "import sys; from deepnodes.cli import main; sys.exit(main(sys.argv[1:]))"
        r = subprocess.run([sys.executable, "-c", code, "serve", "--port", port, "--workspace", tempfile.gettempdir()],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "http://" not in r.stdout, r.stderr[-200:]
    return check


def _bad_length(value: str) -> Check:
    def check(addr, doc):
        with socket.create_connection(addr, timeout=5) as s:
            s.sendall(f"POST /api/docs/new HTTP/1.1\r\nHost: x\r\nX-DeepNodes-Token: {TOKEN}\r\n"
                      f"Content-Length: {value}\r\n\r\n{{}}".encode())
            data = s.recv(65536)
        status = int(data.split(b" ", 2)[1]) if data else 0
        assert 400 <= status < 500, f"answered {status}"
    return check


def _ws_token(token) -> Check:
    def check(addr, doc):
        with socket.create_connection(addr, timeout=5) as s:
            q = f"doc={doc}" + (f"&token={token}" if token is not None else "")
            s.sendall((f"GET /api/ws?{q} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            data = s.recv(65536)
            if data.startswith(b"HTTP/1.1 101"):  # accepted: it must be closed before anything is sent
                data = data.split(b"\r\n\r\n", 1)[1] or s.recv(65536)
                assert data[:1] == b"\x88" and b"hello" not in data, "a WebSocket without the token got data"
            else:
                assert data.split(b" ", 2)[1] in (b"403", b"401"), f"answered {data[:40]!r}"
    return check


def cases(out: Path) -> list[tuple[str, Check]]:
    deep = {n: "[" * n + "]" * n for n in (65, 1000, 100_000)}
    out_file = str(out / "secret.csv")
    return [
        *[(f"token {how} {m} {p}", (_get if m == "GET" else lambda p, **k: _post(p, {}, **k))(p, token=t, codes=[401]))
          for how, t in (("missing", None), ("wrong", "nope"), ("prefix", TOKEN[:-1]))
          for m, p in (("GET", "/api/nodes"), ("GET", "/api/docs/{doc}"), ("POST", "/api/docs/{doc}/execute"))],
        *[(f"{v} in a position", _edit('{"op": "move", "id": "src", "position": [%s, 0]}' % v))
          for v in ("NaN", "Infinity", "-Infinity", "1e999")],
        *[(f"{v} in a config", _edit('{"op": "config", "id": "src", "config": {"rows": %s}}' % v))
          for v in ("NaN", "Infinity", "9" * 40)],
        *[(f"JSON nested {n} deep", _post("/api/docs/new", raw)) for n, raw in deep.items()],
        ("invalid JSON", _post("/api/docs/new", "{nope")),
        ("invalid UTF-8", _post("/api/docs/new", b'{"name": "\xff\xfe"}')),
        ("a list as the body", _post("/api/docs/new", "[]")),
        ("a string for ops", _post("/api/docs/{doc}/edit", {"ops": "add"})),
        ("an empty edit", _post("/api/docs/{doc}/edit", {"ops": []})),
        ("an op without its id", _edit('{"op": "remove"}')),
        ("a list for a node id", _edit('{"op": "move", "id": ["src"], "position": [0, 0]}')),
        ("an unknown op", _edit('{"op": "explode"}')),
        ("an unknown node type", _edit('{"op": "add", "type": "no.such.Node"}')),
        ("a number for a path", _post("/api/docs/{doc}/save_as", {"path": 7})),
        ("a string for nodes", _post("/api/docs/{doc}/execute", {"nodes": "src"})),
        ("5 MB body", _post("/api/docs/new", json.dumps({"name": "x" * (5 << 20)}))),
        *[(f"Content-Length {v}", _bad_length(v)) for v in ("abc", "-1", "99999999999")],
        *[(f"save as '{p}'", _post("/api/docs/{doc}/save_as", {"path": p, "overwrite": True}))
          for p in ("../evil.json", "/etc/passwd", "a/../../evil", ".", "", "x\x00y", "link/evil", "flow", "sub/")],
        *[(f"open '{p}'", _post("/api/docs/open", {"path": p})) for p in ("../x.json", "/etc/passwd", "link/w.json",
                                                                           "zero.json", "nope.json")],
        ("open example '../pyproject.toml'", _post("/api/docs/open", {"example": "../pyproject.toml"})),
        ("unknown document", _get("/api/docs/d999999")),
        ("unknown node", _get("/api/docs/{doc}/nodes/zz/log")),
        ("unknown port", _get("/api/docs/{doc}/nodes/src/ports/zz/table")),
        ("negative offset", _get("/api/docs/{doc}/nodes/src/ports/table/table?offset=-1")),
        ("page too large", _get("/api/docs/{doc}/nodes/src/ports/table/table?limit=100000")),
        ("close without discard", _post("/api/docs/{doc}/close", {}, codes=[409])),
        *[(f"node path {p}", _node_path(p)) for p in (out_file, "/etc/passwd", "ws-link.csv")],
        ("200 stalled bodies without token", _stalled(200, None)),
        ("30 stalled bodies with token", _stalled(30, TOKEN)),
        ("100 unfinished request heads", _stalled(100, TOKEN, head_only=True)),
        *[(f"WebSocket token {t!r}", _ws_token(t)) for t in (None, "", "wrong")],
        *[(f"serve --port {p}", _serve_port(p)) for p in ("99999", "0")],
    ]


def server_cases() -> tuple[int, int, list[str]]:
    """(cases tried, clean answers, one line per failure)."""
    import os

    with tempfile.TemporaryDirectory() as tmp:
        ws, out = Path(tmp) / "ws", Path(tmp) / "outside"
        ws.mkdir()
        out.mkdir()
        (out / "secret.csv").write_text("password\nhunter2\n")
        (out / "w.json").write_text('{"format": "deepnodes.workflow/1", "nodes": [], "connections": []}')
        (ws / "link").symlink_to(out, target_is_directory=True)
        (ws / "flow.results").symlink_to(out, target_is_directory=True)
        (ws / "zero.json").symlink_to("/dev/zero")
        (ws / "ws-link.csv").symlink_to(out / "secret.csv")
        before = sorted(os.listdir(out))
        failures: list[str] = []
        todo = cases(out)
        cwd = os.getcwd()
        os.chdir(ws)  # relative node paths resolve in the workspace, as under `deepnodes serve`
        try:
            with live_server(ws, body_timeout=1.0) as addr:
                status, doc = request(addr, "POST", "/api/docs/new", {"name": "hostile"})
                request(addr, "POST", f"/api/docs/{doc['id']}/edit", {"ops": [
                    {"op": "add", "id": "src", "type": "deepnodes.data.CSVReader", "config": {"path": ""}}]})
                for name, check in todo:
                    try:
                        check(addr, doc["id"])
                        status, _ = request(addr, "GET", "/api/info", timeout=5)
                        assert status == 200, f"the server answered {status} afterwards"
                        assert sorted(os.listdir(out)) == before, "a file outside the workspace changed"
                    except (AssertionError, OSError, ValueError, subprocess.TimeoutExpired) as e:
                        failures.append(f"{name}: {type(e).__name__}: {str(e)[:200]}")
        finally:
            os.chdir(cwd)
    return len(todo), len(todo) - len(failures), failures


if __name__ == "__main__":
    n, clean, failed = server_cases()
    print(f"server: {n} hostile requests, {clean} clean, {len(failed)} failures")
    for f in failed:
        print("  " + f)
