"""Slow and stalled clients against a real server on 127.0.0.1 (raw sockets): they never make a legitimate
request wait or fail, the token is checked before any body is read, and `serve` refuses a bad port in a sentence."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from deepnodes.server import limits
from tests.server.live import TOKEN, live_server, open_stalled, request


def _closed(s: socket.socket, wait: float) -> bytes | None:
    """What the server sent before closing the connection, or None if it is still open after `wait` s."""
    s.settimeout(wait)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data
            data += b
    except socket.timeout:
        return None
    except ConnectionResetError:
        return data


@pytest.fixture
def addr(tmp_path):
    with live_server(tmp_path, body_timeout=1.0) as a:
        yield a


def test_stalled_bodies_without_token_get_401_at_once_and_never_block(addr):
    socks = open_stalled(addr, 300, token=None)
    try:
        t0 = time.monotonic()
        status, body = request(addr, "POST", "/api/docs/new", {"name": "fine"})
        assert status == 200 and body["name"] == "fine"
        assert time.monotonic() - t0 < 5  # a hang detector; the status is what matters
        for s in socks[:20]:  # refused before the body: 401 and the connection closed
            got = _closed(s, 3)
            assert got is not None and got.startswith(b"HTTP/1.1 401") and b"valid token" in got
    finally:
        for s in socks:
            s.close()


def test_stalled_bodies_with_token_time_out_and_are_bounded(addr):
    socks = open_stalled(addr, 40, token=TOKEN)
    try:
        time.sleep(limits.FAST + 0.2)
        for _ in range(5):  # fast requests never wait for a slot
            t0 = time.monotonic()
            assert request(addr, "POST", "/api/docs/new", {"name": "x"})[0] == 200
            assert time.monotonic() - t0 < 5  # a hang detector; the status is what matters
        answers = [_closed(s, 4) for s in socks]
        assert all(a is not None for a in answers), "a stalled body kept its connection open"
        codes = sorted({a.split(b" ", 2)[1] for a in answers})
        assert set(codes) <= {b"408", b"503"} and b"408" in codes
        n408 = sum(a.split(b" ", 2)[1] == b"408" for a in answers)
        assert n408 <= limits.MAX_SLOW_BODIES  # at most that many were waited for
        assert all(b"did not arrive" in a or b"slowly" in a for a in answers)
    finally:
        for s in socks:
            s.close()


def test_unfinished_heads_are_closed_and_do_not_exhaust_connections(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "HEAD_TIMEOUT", 1.0)
    monkeypatch.setattr(limits, "MAX_CONNECTIONS", 60)
    with live_server(tmp_path) as addr:
        socks = open_stalled(addr, 150, token=TOKEN, head_only=True)
        try:
            t0 = time.monotonic()
            assert request(addr, "GET", "/api/info")[0] == 200  # beyond the limit, the oldest idle one goes
            assert time.monotonic() - t0 < 5  # a hang detector; the status is what matters
            assert all(_closed(s, 3) is not None for s in socks), "a connection without a request head stayed"
        finally:
            for s in socks:
                s.close()


def test_wrong_token_is_refused_before_the_body(addr):
    s = socket.create_connection(addr, timeout=5)
    try:
        s.sendall(b"POST /api/docs/new HTTP/1.1\r\nHost: x\r\nX-DeepNodes-Token: wrong\r\nContent-Length: 100000\r\n\r\n")
        got = _closed(s, 3)
        assert got is not None and got.startswith(b"HTTP/1.1 401")
    finally:
        s.close()


def test_websocket_still_works_through_the_guarded_protocol(addr):
    import json

    status, doc = request(addr, "POST", "/api/docs/new", {"name": "w"})
    s = socket.create_connection(addr, timeout=5)
    try:
        s.sendall((f"GET /api/ws?doc={doc['id']}&token={TOKEN} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        data = b""
        while b"hello" not in data:
            chunk = s.recv(65536)
            assert chunk, "the WebSocket was closed"
            data += chunk
        assert data.startswith(b"HTTP/1.1 101")
        frame = data.split(b"\r\n\r\n", 1)[1]
        assert json.loads(frame[frame.index(b"{"):])["type"] == "hello"
    finally:
        s.close()


def _serve(workspace, port: str) -> subprocess.CompletedProcess:
    code = "import sys; from deepnodes.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "serve", "--workspace", str(workspace), "--port", port],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("port", ["99999", "0", "-1", "65536"])
def test_serve_bad_port_is_one_sentence(tmp_path, port):
    r = _serve(tmp_path, port)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "http://" not in r.stdout
    assert r.stderr.strip().startswith("error:") and len(r.stderr.strip().splitlines()) == 1


def test_serve_unknown_host_is_one_sentence(tmp_path):
    code = "import sys; from deepnodes.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "serve", "--workspace", str(tmp_path), "--host", "no-such.invalid"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--host 'no-such.invalid'" in r.stderr and "Traceback" not in r.stderr


def test_serve_allow_path_must_be_a_folder(tmp_path):
    code = "import sys; from deepnodes.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "serve", "--workspace", str(tmp_path), "--allow-path",
                        str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--allow-path" in r.stderr and "not a folder" in r.stderr
    assert "Traceback" not in r.stderr and "http://" not in r.stdout


def test_serve_port_in_use_is_one_sentence(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = _serve(tmp_path, str(port))
    assert r.returncode == 2 and "in use" in r.stderr and "Traceback" not in r.stderr
    assert "http://" not in r.stdout


def test_serve_prints_the_real_url_and_runs_in_the_workspace(tmp_path):
    """The printed URL reaches the server; a relative node path names a file in the workspace."""
    import re

    from tests.server.live import _free_port

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "d.csv").write_text("a,b\n1,2\n")
    code = "import sys; from deepnodes.cli import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.Popen([sys.executable, "-c", code, "serve", "--workspace", str(ws), "--port", str(_free_port())],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = ""
        t0 = time.monotonic()
        while "token=" not in line:
            line = p.stdout.readline()
            assert line or p.poll() is None, p.stderr.read()
            assert time.monotonic() - t0 < 60
        m = re.search(r"http://([\d.]+):(\d+)/\?token=(\S+)", line)
        addr, token = (m[1], int(m[2])), m[3]
        t0 = time.monotonic()
        while True:
            try:
                status, doc = request(addr, "POST", "/api/docs/new", {"name": "u"}, token=token)
                break
            except OSError:
                assert time.monotonic() - t0 < 30
                time.sleep(0.1)
        assert status == 200
        status, d = request(addr, "POST", f"/api/docs/{doc['id']}/edit", {"ops": [
            {"op": "add", "id": "c", "type": "deepnodes.data.CSVReader", "config": {"path": "d.csv"}},
            {"op": "add", "id": "e", "type": "deepnodes.data.CSVReader", "config": {"path": "../d.csv"}}]},
            token=token)
        assert d["status"]["c"]["state"] == "configured", d["status"]["c"]
        assert "outside the workspace" in d["status"]["e"]["message"]
    finally:
        p.terminate()
        p.wait(10)
