"""API tests of the editor's server with FastAPI's TestClient, on small real tables."""
from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from deepnodes.server.app import create_app
from tests.server import server_nodes  # noqa: F401 - registers the test nodes

TOKEN = "test-token-123"
H = {"X-DeepNodes-Token": TOKEN}


@pytest.fixture
def client(tmp_path):
    app = create_app(tmp_path, TOKEN)
    with TestClient(app) as c:
        c.workspace = tmp_path
        yield c


def new_doc(c) -> dict:
    r = c.post("/api/docs/new", headers=H, json={"name": "t"})
    assert r.status_code == 200, r.text
    return r.json()


def edit(c, doc, *ops, status=200):
    r = c.post(f"/api/docs/{doc['id']}/edit", headers=H, json={"ops": list(ops)})
    assert r.status_code == status, r.text
    return r.json()


def wait_state(c, doc_id, node, states=("executed", "failed"), timeout=20):
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = c.get(f"/api/docs/{doc_id}", headers=H).json()["status"][node]
        if st["state"] in states and not c.get(f"/api/docs/{doc_id}", headers=H).json()["running"]:
            return st
        time.sleep(0.02)
    raise AssertionError(f"node {node} did not reach {states}: {st}")


def small_graph(c):
    doc = new_doc(c)
    edit(c, doc,
         {"op": "add", "id": "src", "type": "test.server.Numbers", "config": {"rows": 30}, "position": [0, 0]},
         {"op": "add", "id": "flt", "type": "test.server.Filter", "config": {"minimum": 10}, "position": [200, 0]},
         {"op": "connect", "source": "src", "source_port": "table", "target": "flt", "target_port": "table"})
    return doc


# ---------------------------------------------------------------- security
def test_token_required_everywhere(client):
    assert client.get("/api/nodes").status_code == 401
    assert client.get("/api/nodes", headers={"X-DeepNodes-Token": "wrong"}).status_code == 401
    assert client.get("/api/nodes?token=" + TOKEN).status_code == 200
    assert client.get("/api/nodes", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.post("/api/docs/new", json={}).status_code == 401
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect("/api/ws?doc=d1&token=nope") as ws:
            ws.receive_json()
    assert e.value.code == 4401


def test_random_token_when_none_given(tmp_path):
    a, b = create_app(tmp_path), create_app(tmp_path)
    assert len(a.state.token) >= 24 and a.state.token != b.state.token


@pytest.mark.parametrize("path", ["../evil.json", "/etc/passwd", "a/../../evil.json", "sub/../../x.json",
                                  "..", "./../x"])
def test_path_traversal_refused(client, path):
    doc = new_doc(client)
    r = client.post(f"/api/docs/{doc['id']}/save_as", headers=H, json={"path": path})
    assert r.status_code == 403, r.text
    assert "outside the workspace" in r.json()["error"]
    r = client.post("/api/docs/open", headers=H, json={"path": path})
    assert r.status_code == 403
    assert not (client.workspace.parent / "evil.json").exists()


def test_symlink_out_of_workspace_refused(client, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "w.json").write_text(json.dumps({"format": "deepnodes.workflow/1", "nodes": [], "connections": []}))
    (client.workspace / "link").symlink_to(outside)
    r = client.post("/api/docs/open", headers=H, json={"path": "link/w.json"})
    assert r.status_code == 403


def test_example_name_cannot_escape(client):
    r = client.post("/api/docs/open", headers=H, json={"example": "../pyproject.toml"})
    assert r.status_code == 404


def test_request_size_limit(client):
    big = "x" * (5 * 1024 * 1024)
    r = client.post("/api/docs/new", headers=H, content=json.dumps({"name": big}))
    assert r.status_code == 413
    assert "larger than" in r.json()["error"]

    def chunks():  # no Content-Length: the limit still holds while streaming
        for _ in range(6):
            yield b"x" * (1024 * 1024)

    r = client.post("/api/docs/new", headers=H, content=chunks())
    assert r.status_code == 413


# ---------------------------------------------------------------- catalogue and files
def test_catalogue_has_schema_and_ports(client):
    r = client.get("/api/nodes", headers=H).json()
    by = {n["type"]: n for n in r["nodes"]}
    f = by["test.server.Filter"]
    assert f["category"] == "Test/Server" and "column" in f["config_schema"]["properties"]
    assert f["inputs"][0]["type"] == "table"
    assert "table" in r["port_types"]


def test_save_open_list_and_results_reopen(client):
    doc = small_graph(client)
    client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={})
    wait_state(client, doc["id"], "flt")
    r = client.post(f"/api/docs/{doc['id']}/save", headers=H)
    assert r.status_code == 400 and "Save as" in r.json()["error"]
    r = client.post(f"/api/docs/{doc['id']}/save_as", headers=H, json={"path": "sub/flow"})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "sub/flow.json" and not r.json()["dirty"]
    saved = json.loads((client.workspace / "sub" / "flow.json").read_text())
    assert saved["format"] == "deepnodes.workflow/1" and len(saved["nodes"]) == 2
    assert (client.workspace / "sub" / "flow.results" / "results.json").exists()
    r = client.post(f"/api/docs/{doc['id']}/save_as", headers=H, json={"path": "sub/flow.json"})
    assert r.status_code == 409  # exists, not overwritten silently
    lst = client.get("/api/workflows", headers=H).json()["workflows"]
    assert [w["path"] for w in lst] == ["sub/flow.json"]

    # a fresh server (a restart) reopens the workflow with its results: no re-execution needed
    app2 = create_app(client.workspace, TOKEN)
    with TestClient(app2) as c2:
        d2 = c2.post("/api/docs/open", headers=H, json={"path": "sub/flow.json"}).json()
        assert d2["status"]["flt"]["state"] == "executed"
        t = c2.get(f"/api/docs/{d2['id']}/nodes/flt/ports/table/table", headers=H).json()
        assert t["rows_total"] == 20
        # opening the same file twice gives the same document (two tabs stay consistent)
        assert c2.post("/api/docs/open", headers=H, json={"path": "sub/flow.json"}).json()["id"] == d2["id"]


def test_open_missing_and_invalid_files(client):
    r = client.post("/api/docs/open", headers=H, json={"path": "nope.json"})
    assert r.status_code == 404
    (client.workspace / "bad.json").write_text("{not json")
    r = client.post("/api/docs/open", headers=H, json={"path": "bad.json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]


# ---------------------------------------------------------------- edits
def test_edit_validation_messages(client):
    doc = small_graph(client)
    r = edit(client, doc, {"op": "config", "id": "src", "config": {"rows": 0, "kind": "zigzag"}}, status=422)
    fields = {e["field"]: e["message"] for e in r["errors"]}
    assert set(fields) == {"rows", "kind"} and "greater than or equal to 1" in fields["rows"]
    r = edit(client, doc, {"op": "config", "id": "src", "config": {"nope": 1}}, status=422)
    assert r["errors"][0]["field"] == "nope"
    # a configure error (missing column) shows on the node, naming the option
    d = edit(client, doc, {"op": "config", "id": "flt", "config": {"column": "zz"}})
    st = d["status"]["flt"]
    assert st["state"] == "idle" and "column 'zz' (option 'column')" in st["message"]
    v = client.post(f"/api/docs/{doc['id']}/validate", headers=H,
                    json={"node": "src", "config": {"rows": "many"}}).json()
    assert v["errors"][0]["field"] == "rows"


def test_edits_are_atomic_and_connections_checked(client):
    doc = small_graph(client)
    before = client.get(f"/api/docs/{doc['id']}", headers=H).json()
    r = edit(client, doc,
             {"op": "add", "id": "t2", "type": "test.server.Trainer"},
             {"op": "connect", "source": "flt", "source_port": "table", "target": "src", "target_port": "table"},
             status=422)
    assert r["op"] == 1 and "no input port 'table'" in r["error"]
    after = client.get(f"/api/docs/{doc['id']}", headers=H).json()
    assert after["workflow"] == before["workflow"]  # nothing of the failed batch stayed
    r = edit(client, doc, {"op": "connect", "source": "src", "source_port": "table", "target": "flt",
                           "target_port": "table"}, status=422)
    assert "already connected" in r["error"]
    r = edit(client, doc, {"op": "add", "type": "no.such.Node"}, status=422)
    assert "unknown node type" in r["error"]
    r = edit(client, doc, {"op": "explode"}, status=422)
    assert "unknown edit operation" in r["error"]
    d = edit(client, doc, {"op": "move", "id": "flt", "position": [5, 6]}, {"op": "label", "id": "flt", "label": "Keep"})
    node = [n for n in d["workflow"]["nodes"] if n["id"] == "flt"][0]
    assert node["position"] == [5, 6] and node["label"] == "Keep"
    d = edit(client, doc, {"op": "disconnect", "target": "flt", "target_port": "table"})
    assert d["workflow"]["connections"] == [] and d["status"]["flt"]["state"] == "idle"
    d = edit(client, doc, {"op": "remove", "id": "flt"})
    assert [n["id"] for n in d["workflow"]["nodes"]] == ["src"]


# ---------------------------------------------------------------- running and views
def test_execute_table_view_and_reset(client):
    doc = small_graph(client)
    r = client.get(f"/api/docs/{doc['id']}/nodes/flt/ports/table/table", headers=H)
    assert r.status_code == 409 and "not been executed" in r.json()["error"]
    assert client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={"nodes": ["flt"]}).status_code == 200
    st = wait_state(client, doc["id"], "flt")
    assert st["state"] == "executed"
    t = client.get(f"/api/docs/{doc['id']}/nodes/flt/ports/table/table?offset=5&limit=3", headers=H).json()
    assert t["rows_total"] == 20 and t["offset"] == 5
    assert [c["name"] for c in t["columns"]] == ["x", "label", "img"]
    assert [c["kind"] for c in t["columns"]] == ["number", "category", "tensor"]
    assert [r[0] for r in t["rows"]] == [15.0, 16.0, 17.0]
    assert [r[1] for r in t["rows"]] == ["odd", "even", "odd"]
    img = t["rows"][0][2]
    assert img["img"].startswith("data:image/png;base64,") and img["text"].startswith("1×8×8 float")
    import base64
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(base64.b64decode(img["img"].split(",", 1)[1])))
    assert max(im.size) <= 56
    r = client.post(f"/api/docs/{doc['id']}/reset", headers=H, json={"node": "src"}).json()
    assert r["status"]["src"]["state"] == "configured" and r["status"]["flt"]["state"] == "configured"


def test_failed_node_message_and_log(client):
    doc = small_graph(client)
    edit(client, doc, {"op": "add", "id": "tr", "type": "test.server.Trainer", "config": {"fail": True}},
         {"op": "connect", "source": "flt", "source_port": "table", "target": "tr", "target_port": "table"})
    client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={})
    st = wait_state(client, doc["id"], "tr")
    assert st["state"] == "failed" and st["message"] == "option 'fail' is set, so the trainer fails"
    log = client.get(f"/api/docs/{doc['id']}/nodes/tr/log", headers=H).json()
    # a user error is its sentence: no traceback in the editor (issue 9, bug 9; `deepnodes run --debug` prints it)
    assert log["traceback"] == "" and log["message"] == st["message"]


def test_scorer_view(client):
    doc = small_graph(client)
    edit(client, doc, {"op": "add", "id": "sc", "type": "test.server.Scores"},
         {"op": "connect", "source": "flt", "source_port": "table", "target": "sc", "target_port": "table"})
    client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={})
    wait_state(client, doc["id"], "sc")
    s = client.get(f"/api/docs/{doc['id']}/nodes/sc/scorer", headers=H).json()
    assert s["confusion_matrix"]["actual"] == ["a", "b"] and s["confusion_matrix"]["counts"] == [[8, 2], [2, 8]]
    assert s["per_class"]["columns"] == ["class", "precision", "recall"]
    assert s["scalars"]["accuracy"] == 0.8


def test_edit_refused_while_running_and_stop_keeps_result(client):
    doc = small_graph(client)
    edit(client, doc, {"op": "add", "id": "tr", "type": "test.server.Trainer",
                       "config": {"epochs": 50, "batches": 20, "sleep": 0.01}},
         {"op": "connect", "source": "flt", "source_port": "table", "target": "tr", "target_port": "table"})
    client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={})
    t0 = time.time()
    while not client.get(f"/api/docs/{doc['id']}/nodes/tr/metrics", headers=H).json()["epoch"]:
        assert time.time() - t0 < 20
        time.sleep(0.02)
    r = edit(client, doc, {"op": "remove", "id": "src"}, status=409)
    assert "running" in r["error"]
    assert client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={}).status_code == 409
    edit(client, doc, {"op": "move", "id": "src", "position": [1, 1]})  # layout changes are fine
    client.post(f"/api/docs/{doc['id']}/stop", headers=H, json={"node": "tr"})
    st = wait_state(client, doc["id"], "tr")
    assert st["state"] == "executed" and st["scalars"]["epochs"] < 50
    m = client.get(f"/api/docs/{doc['id']}/nodes/tr/metrics", headers=H).json()
    assert len(m["epoch"]) == st["scalars"]["epochs"]
    t = client.get(f"/api/docs/{doc['id']}/nodes/tr/ports/history/table", headers=H).json()
    assert t["rows_total"] == st["scalars"]["epochs"]


def test_cancel(client):
    doc = small_graph(client)
    edit(client, doc, {"op": "add", "id": "tr", "type": "test.server.Trainer",
                       "config": {"epochs": 100, "batches": 100, "sleep": 0.005}},
         {"op": "connect", "source": "flt", "source_port": "table", "target": "tr", "target_port": "table"})
    client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={})
    t0 = time.time()
    while client.get(f"/api/docs/{doc['id']}", headers=H).json()["status"]["tr"]["state"] != "executing":
        assert time.time() - t0 < 20
        time.sleep(0.02)
    client.post(f"/api/docs/{doc['id']}/cancel", headers=H)
    st = wait_state(client, doc["id"], "tr", states=("configured",))
    assert st["message"] == "cancelled"


# ---------------------------------------------------------------- websocket
def test_websocket_events_throttled_and_complete(client):
    doc = small_graph(client)
    edit(client, doc, {"op": "add", "id": "tr", "type": "test.server.Trainer",
                       "config": {"epochs": 4, "batches": 300, "sleep": 0.0005}},
         {"op": "connect", "source": "flt", "source_port": "table", "target": "tr", "target_port": "table"})
    with client.websocket_connect(f"/api/ws?doc={doc['id']}&token={TOKEN}") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["doc"]["id"] == doc["id"]
        client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={})
        msgs = []
        t0 = time.time()
        while True:
            m = ws.receive_json()
            msgs.append(m)
            if m["type"] == "run" and m.get("state") == "finished":
                break
            assert time.time() - t0 < 30
    states = [(m["node"], m["state"]) for m in msgs if m["type"] == "state"]
    assert ("tr", "executing") in states and states[-1] == ("tr", "executed")
    done = [m for m in msgs if m["type"] == "state" and m["node"] == "tr" and m["state"] == "executed"][0]
    assert done["status"]["scalars"]["epochs"] == 4
    metric_msgs = [m for m in msgs if m["type"] == "metrics" and m["node"] == "tr"]
    points = [p for m in metric_msgs for p in m["points"]]
    assert len([p for p in points if p["kind"] == "batch"]) == 1200  # every point arrives...
    assert [p["epoch"] for p in points if p["kind"] == "epoch"] == [0, 1, 2, 3]  # ...every epoch too
    # ...batched into far fewer messages (the 20-a-second rule itself: test_trust_server_hub.py, on a fake clock)
    assert len(metric_msgs) < len(points) / 4


def test_two_tabs_see_graph_changes(client):
    doc = small_graph(client)
    url = f"/api/ws?doc={doc['id']}&token={TOKEN}"
    with client.websocket_connect(url) as a, client.websocket_connect(url) as b:
        assert a.receive_json()["type"] == "hello" and b.receive_json()["type"] == "hello"
        edit(client, doc, {"op": "label", "id": "flt", "label": "Renamed"})
        for ws in (a, b):
            m = ws.receive_json()
            assert m["type"] == "graph"
            assert [n["label"] for n in m["doc"]["workflow"]["nodes"] if n["id"] == "flt"] == ["Renamed"]


def test_websocket_unknown_doc_says_so(client):
    with client.websocket_connect(f"/api/ws?doc=d999&token={TOKEN}") as ws:
        m = ws.receive_json()
        assert m["type"] == "error" and m["code"] == "no_doc"


def test_import_restores_unsaved_doc(client):
    doc = small_graph(client)
    wf = client.get(f"/api/docs/{doc['id']}", headers=H).json()["workflow"]
    d = client.post("/api/docs/import", headers=H, json={"workflow": wf, "dirty": True}).json()
    assert d["id"] != doc["id"] and d["workflow"] == wf and d["dirty"]


def test_network_view_before_and_after_execution(client):
    doc = new_doc(client)
    edit(client, doc,
         {"op": "add", "id": "inp", "type": "deepnodes.layers.Input", "config": {"shape": [1, 8, 8]}},
         {"op": "add", "id": "fl", "type": "deepnodes.layers.Flatten"},
         {"op": "add", "id": "dn", "type": "deepnodes.layers.Dense", "config": {"units": 10, "activation": "softmax"}},
         {"op": "connect", "source": "inp", "source_port": "network", "target": "fl", "target_port": "input"},
         {"op": "connect", "source": "fl", "source_port": "network", "target": "dn", "target_port": "input"})
    # configured only: shapes are known, and the parameter counts of the layers too
    v = client.get(f"/api/docs/{doc['id']}/nodes/dn/ports/network/network", headers=H).json()
    assert not v["executed"] and v["layers"][-1]["kind"].lower() == "dense"
    assert v["layers"][-1]["output_shapes"] == ["(10,)"]
    assert v["total_params"] == 64 * 10 + 10
    client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={})
    wait_state(client, doc["id"], "dn")
    v = client.get(f"/api/docs/{doc['id']}/nodes/dn/ports/network/network", headers=H).json()
    assert v["executed"] and v["trainable_params"] == 650 and v["layers"][-1]["params"] == 650
    r = client.get(f"/api/docs/{doc['id']}/nodes/dn/ports/network/table", headers=H)
    assert r.status_code == 400 and "not a table" in r.json()["error"]


def test_trained_network_reopens_with_its_epoch_history(client):
    doc = new_doc(client)
    edit(client, doc,
         {"op": "add", "id": "data", "type": "deepnodes.data.DatasetReader", "config": {"dataset": "digits", "limit": 200}},
         {"op": "add", "id": "tensor", "type": "deepnodes.data.ImageToTensor", "config": {"column": "image"}},
         {"op": "add", "id": "inp", "type": "deepnodes.layers.Input", "config": {"shape": [1, 8, 8]}},
         {"op": "add", "id": "fl", "type": "deepnodes.layers.Flatten"},
         {"op": "add", "id": "dn", "type": "deepnodes.layers.Dense", "config": {"units": 10, "activation": "softmax"}},
         {"op": "add", "id": "learner", "type": "deepnodes.dl.NetworkLearner",
          "config": {"epochs": 3, "batch_size": 32, "metrics_interval": 0.0,
                     "targets": [{"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}]}},
         {"op": "connect", "source": "data", "source_port": "table", "target": "tensor", "target_port": "table"},
         {"op": "connect", "source": "inp", "source_port": "network", "target": "fl", "target_port": "input"},
         {"op": "connect", "source": "fl", "source_port": "network", "target": "dn", "target_port": "input"},
         {"op": "connect", "source": "dn", "source_port": "network", "target": "learner", "target_port": "network"},
         {"op": "connect", "source": "tensor", "source_port": "table", "target": "learner", "target_port": "table"})
    client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={})
    st = wait_state(client, doc["id"], "learner", timeout=120)
    assert st["state"] == "executed", st
    live = client.get(f"/api/docs/{doc['id']}/nodes/learner/metrics", headers=H).json()
    assert [p["epoch"] for p in live["epoch"]] == [1, 2, 3] and len(live["batch"]) >= 3
    assert client.post(f"/api/docs/{doc['id']}/save_as", headers=H, json={"path": "trained.json"}).status_code == 200
    with TestClient(create_app(client.workspace, TOKEN)) as c2:
        d2 = c2.post("/api/docs/open", headers=H, json={"path": "trained.json"}).json()
        assert d2["status"]["learner"]["state"] == "executed"
        m = c2.get(f"/api/docs/{d2['id']}/nodes/learner/metrics", headers=H).json()
        assert [p["epoch"] for p in m["epoch"]] == [1, 2, 3] and "loss" in m["epoch"][0]["values"]
        v = c2.get(f"/api/docs/{d2['id']}/nodes/learner/ports/network/network", headers=H).json()
        assert v["executed"] and v["total_params"] == 650
