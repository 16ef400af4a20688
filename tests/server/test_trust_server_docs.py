"""Documents: closing frees them (engine, results, memory), unsaved work is not closed silently, and a file opened
twice, in any spelling of its path, from two tabs at once, is one document."""
from __future__ import annotations

import gc
import json
import threading
import time
import weakref

import pytest
from fastapi.testclient import TestClient

from deepnodes.server.app import create_app
from tests.server import server_nodes  # noqa: F401 - registers the test nodes

TOKEN = "t-docs"
H = {"X-DeepNodes-Token": TOKEN}


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(tmp_path, TOKEN)) as c:
        c.workspace = tmp_path
        yield c


def _graph(c, rows=30) -> str:
    d = c.post("/api/docs/new", headers=H, json={"name": "t"}).json()["id"]
    r = c.post(f"/api/docs/{d}/edit", headers=H, json={"ops": [
        {"op": "add", "id": "src", "type": "test.server.Numbers", "config": {"rows": rows}},
        {"op": "add", "id": "flt", "type": "test.server.Filter", "config": {"minimum": 10}},
        {"op": "connect", "source": "src", "source_port": "table", "target": "flt", "target_port": "table"}]})
    assert r.status_code == 200, r.text
    return d


def _run(c, d):
    assert c.post(f"/api/docs/{d}/execute", headers=H, json={}).status_code == 200
    t0 = time.time()
    while c.get(f"/api/docs/{d}", headers=H).json()["running"] or \
            c.get(f"/api/docs/{d}", headers=H).json()["status"]["flt"]["state"] != "executed":
        assert time.time() - t0 < 30
        time.sleep(0.02)


def test_close_frees_the_document_and_its_results(client):
    d = _graph(client, rows=20000)
    _run(client, d)
    doc = client.app.state.docs.get(d)
    table = doc.engine.status["flt"].outputs[0]
    refs = [weakref.ref(doc), weakref.ref(doc.engine)]
    table_bytes = table.nbytes
    assert table_bytes > 100_000
    del doc, table
    r = client.post(f"/api/docs/{d}/close", headers=H, json={})
    assert r.status_code == 409 and "unsaved changes" in r.json()["error"]  # an edited, unsaved document
    assert client.post(f"/api/docs/{d}/close", headers=H, json={"discard": True}).json() == {"closed": True, "id": d}
    assert client.get(f"/api/docs/{d}", headers=H).status_code == 404
    assert client.post(f"/api/docs/{d}/close", headers=H, json={"discard": True}).status_code == 404
    for _ in range(50):
        gc.collect()
        if all(r() is None for r in refs):
            break
        time.sleep(0.05)
    assert all(r() is None for r in refs), "a closed document is still held"


def test_close_cancels_a_run_and_tells_the_tabs(client):
    d = _graph(client)
    r = client.post(f"/api/docs/{d}/edit", headers=H, json={"ops": [
        {"op": "add", "id": "tr", "type": "test.server.Trainer", "config": {"epochs": 200, "batches": 100,
                                                                            "sleep": 0.005}},
        {"op": "connect", "source": "flt", "source_port": "table", "target": "tr", "target_port": "table"}]})
    assert r.status_code == 200
    with client.websocket_connect(f"/api/ws?doc={d}&token={TOKEN}") as ws:
        assert ws.receive_json()["type"] == "hello"
        client.post(f"/api/docs/{d}/execute", headers=H, json={})
        doc = client.app.state.docs.get(d)
        t0 = time.time()
        while doc.engine.status["tr"].state != "executing":
            assert time.time() - t0 < 20
            time.sleep(0.02)
        thread = doc.thread
        t0 = time.time()
        assert client.post(f"/api/docs/{d}/close", headers=H, json={"discard": True}).status_code == 200
        assert time.time() - t0 < 10 and not thread.is_alive()  # the run was cancelled, not left behind
        while True:
            m = ws.receive_json()
            if m["type"] == "closed":
                assert m["doc"] == d
                break
    with client.websocket_connect(f"/api/ws?doc={d}&token={TOKEN}") as ws:
        assert ws.receive_json()["code"] == "no_doc"


def test_a_saved_document_closes_and_reopens_with_its_results(client):
    d = _graph(client)
    _run(client, d)
    assert client.post(f"/api/docs/{d}/save_as", headers=H, json={"path": "flow"}).status_code == 200
    assert client.post(f"/api/docs/{d}/close", headers=H).status_code == 200  # saved: no discard needed
    d2 = client.post("/api/docs/open", headers=H, json={"path": "flow.json"}).json()
    assert d2["id"] != d and d2["status"]["flt"]["state"] == "executed"


@pytest.mark.parametrize("spelling", ["flow.json", "flow", "./flow.json", "sub/../flow.json", "link.json",
                                      "dir/flow.json", ".//flow.json"])
def test_one_file_is_one_document_in_any_spelling(client, spelling):
    ws = client.workspace
    (ws / "flow.json").write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "f", "nodes": [],
                                              "connections": []}))
    (ws / "link.json").symlink_to(ws / "flow.json")
    (ws / "dir").symlink_to(ws, target_is_directory=True)
    first = client.post("/api/docs/open", headers=H, json={"path": "flow.json"}).json()
    r = client.post("/api/docs/open", headers=H, json={"path": spelling})
    if ".." in spelling:
        assert r.status_code == 403
        return
    assert r.status_code == 200, r.text
    assert r.json()["id"] == first["id"] and r.json()["path"] == "flow.json"
    wf = client.get(f"/api/docs/{first['id']}", headers=H).json()["workflow"]
    r = client.post("/api/docs/import", headers=H, json={"workflow": wf, "path": spelling})
    assert r.json()["id"] == first["id"]


def test_two_tabs_opening_one_file_at_once_get_one_document(client):
    (client.workspace / "flow.json").write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "f",
                                                            "nodes": [], "connections": []}))
    ids, errors = [], []

    def open_():
        try:
            ids.append(client.post("/api/docs/open", headers=H, json={"path": "flow.json"}).json()["id"])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=open_) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(ids) == 8 and len(set(ids)) == 1
    assert len(client.app.state.docs.by_id) == 1


def test_a_tab_left_open_across_a_restart_never_reaches_another_document(tmp_path, monkeypatch):
    """Document ids are unique to a server run: the first document of a restarted server is not the first of
    the server before it, so an old tab's WebSocket gets `no_doc` (and re-imports) instead of someone else's."""
    import itertools

    from deepnodes.server.session import Document

    monkeypatch.setattr(Document, "_ids", itertools.count(1))  # a fresh process counts from 1 again
    with TestClient(create_app(tmp_path, TOKEN)) as a:
        old = a.post("/api/docs/new", headers=H, json={"name": "mine"}).json()["id"]
    monkeypatch.setattr(Document, "_ids", itertools.count(1))
    with TestClient(create_app(tmp_path, TOKEN)) as b:
        new = b.post("/api/docs/new", headers=H, json={"name": "theirs"}).json()["id"]
        assert new != old
        with b.websocket_connect(f"/api/ws?doc={old}&token={TOKEN}") as ws:
            assert ws.receive_json()["code"] == "no_doc"


def test_close_from_a_page_that_goes_away(client):
    """The editor's `closeDocOnExit` (navigator.sendBeacon): token in the query, body sent as text/plain."""
    d = _graph(client)
    client.post(f"/api/docs/{d}/save_as", headers=H, json={"path": "beacon"})
    r = client.post(f"/api/docs/{d}/close?token={TOKEN}", content='{"discard": false}',
                    headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 200 and d not in client.app.state.docs.by_id
    d2 = _graph(client)  # unsaved: kept, so a reopened tab can still import it
    r = client.post(f"/api/docs/{d2}/close?token={TOKEN}", content='{"discard": false}',
                    headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 409 and d2 in client.app.state.docs.by_id


def test_a_document_another_page_watches_stays_open(client):
    """Two tabs on one file share one document: closing it in one keeps it for the other."""
    d = _graph(client)
    client.post(f"/api/docs/{d}/save_as", headers=H, json={"path": "shared"})
    with client.websocket_connect(f"/api/ws?doc={d}&token={TOKEN}&client=tab-a") as a, \
            client.websocket_connect(f"/api/ws?doc={d}&token={TOKEN}&client=tab-b") as b:
        assert a.receive_json()["type"] == "hello" and b.receive_json()["type"] == "hello"
        r = client.post(f"/api/docs/{d}/close", headers=H, json={"client": "tab-a"})
        assert r.json() == {"closed": False, "id": d, "watched_by": 1} and d in client.app.state.docs.by_id
    with client.websocket_connect(f"/api/ws?doc={d}&token={TOKEN}&client=tab-b") as b:
        assert b.receive_json()["type"] == "hello"
        r = client.post(f"/api/docs/{d}/close", headers=H, json={"client": "tab-b"})  # the last page: freed
        assert r.json()["closed"] is True and d not in client.app.state.docs.by_id
        assert b.receive_json() == {"type": "closed", "doc": d}
