"""The editor's server shows a component's and a loop's outputs: their ports come from their body (read from the
workflow file's folder when the body file is relative), and the port views serve what they hold."""
from __future__ import annotations

import json

from fastapi.testclient import TestClient

from deepnodes.core import Workflow
from deepnodes.server.app import create_app
from tests.flow.flow_bodies import sampling_body
from tests.server.test_server_api import TOKEN, H, wait_state


def write_project(ws) -> None:
    sub = ws / "project"
    sub.mkdir()
    (sub / "sample.json").write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "s", **sampling_body()}))
    wf = Workflow("views")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"})
    wf.add("deepnodes.flow.Component", "comp", {"body_file": str(sub / "sample.json")})
    loop_body = json.loads(json.dumps(sampling_body()).replace('"name": "table"', '"name": "chunk"'))
    wf.add("deepnodes.flow.ChunkLoop", "loop", {"body": loop_body, "chunk_size": 900})
    wf.connect("digits", "table", "comp", "table")
    wf.connect("digits", "table", "loop", "table")
    data = wf.to_json()
    data["nodes"][1]["config"]["body_file"] = "sample.json"  # relative to the workflow file's folder
    (sub / "main.json").write_text(json.dumps(data))


def test_component_and_loop_outputs_are_served_by_the_port_views(tmp_path, monkeypatch):
    write_project(tmp_path)
    monkeypatch.chdir(tmp_path.parent)  # not the workflow's folder: the body file is found beside the workflow
    with TestClient(create_app(tmp_path, TOKEN)) as c:
        doc = c.post("/api/docs/open", headers=H, json={"path": "project/main.json"}).json()
        nodes = {n["id"]: n for n in doc["workflow"]["nodes"]}
        assert [p["name"] for p in nodes["comp"]["ports"]["outputs"]] == ["sample"]
        assert [p["name"] for p in nodes["loop"]["ports"]["outputs"]] == ["sample", "iterations"]
        assert c.post(f"/api/docs/{doc['id']}/execute", headers=H, json={"nodes": ["comp", "loop"]}).status_code == 200
        for nid in ("comp", "loop"):
            assert wait_state(c, doc["id"], nid, timeout=60)["state"] == "executed"
        base = f"/api/docs/{doc['id']}/nodes"
        comp = c.get(f"{base}/comp/ports/sample/table?limit=5", headers=H)
        assert comp.status_code == 200, comp.text
        comp = comp.json()
        assert 0 < comp["rows_total"] < 1797 and "class_name" in [col["name"] for col in comp["columns"]]
        loop = c.get(f"{base}/loop/ports/sample/table?limit=5", headers=H).json()
        assert "iteration" in [col["name"] for col in loop["columns"]]
        iters = c.get(f"{base}/loop/ports/iterations/table", headers=H).json()
        assert iters["rows_total"] == 2
        assert c.get(f"{base}/loop/ports/iterations/summary", headers=H).status_code == 200
        missing = c.get(f"{base}/loop/ports/nope/table", headers=H)
        assert missing.status_code == 404 and "its ports: sample, iterations" in missing.text


def test_file_options_inside_a_body_are_confined_to_the_workspace(tmp_path):
    from deepnodes.core import registry
    from deepnodes.server.confine import PathPolicy
    from tests.flow.flow_bodies import OUT, build

    ws, outside = tmp_path / "ws", tmp_path / "secret.csv"
    ws.mkdir()
    outside.write_text("a\n1\n")
    policy = PathPolicy(ws)
    body = build([("reader", "deepnodes.data.CSVReader", {"path": str(outside)}), ("out", OUT, {"name": "rows"})],
                 [("reader", "table", "out", "value")])
    comp = registry.get("deepnodes.flow.Component")
    msg = policy.check(comp, {"body": body})
    assert msg.startswith("inside its body, node 'reader': option 'path'") and "outside the workspace" in msg
    inside_csv = ws / "ok.csv"
    inside_csv.write_text("a\n1\n")
    body_ok = json.loads(json.dumps(body).replace(str(outside), str(inside_csv)))
    assert policy.check(comp, {"body": body_ok}) is None
    # an exposed option and a search's choices set inner paths at run time: checked as they will be
    assert "outside" in policy.check(comp, {"body": body_ok, "expose": {"p": "reader.path"}, "p": str(outside)})
    search = registry.get("deepnodes.flow.ParameterSearch")
    space = {"f": {"option": "reader.path", "kind": "choice", "choices": [str(inside_csv), str(outside)]}}
    assert "search parameter 'f'" in policy.check(search, {"body": body_ok, "space": space, "objective": "x.y"})
    # a body file inside the workspace holding a reader of a file outside it
    (ws / "b.json").write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "b", **body}))
    assert "inside its body, node 'reader'" in policy.check(comp, {"body_file": "b.json"}, ws)


def test_the_make_component_edit_turns_chosen_nodes_into_a_component_with_ports(tmp_path):
    from tests.server.test_server_api import edit, new_doc

    with TestClient(create_app(tmp_path, TOKEN)) as c:
        doc = new_doc(c)
        edit(c, doc,
             {"op": "add", "id": "digits", "type": "deepnodes.data.DatasetReader", "config": {"dataset": "digits"},
              "position": [0, 0]},
             {"op": "add", "id": "flt", "type": "deepnodes.data.RowFilter",
              "config": {"column": "label", "operator": "<", "value": "5"}, "position": [200, 0]},
             {"op": "add", "id": "samp", "type": "deepnodes.data.RowSampling", "config": {"fraction": 0.5},
              "position": [400, 0]},
             {"op": "connect", "source": "digits", "source_port": "table", "target": "flt", "target_port": "table"},
             {"op": "connect", "source": "flt", "source_port": "table", "target": "samp", "target_port": "table"})
        r = c.post(f"/api/docs/{doc['id']}/edit", headers=H,
                   json={"ops": [{"op": "make_component", "nodes": ["flt"], "id": "comp"}]})
        assert r.status_code == 200, r.text
        snap = c.get(f"/api/docs/{doc['id']}", headers=H).json()
        nodes = {n["id"]: n for n in snap["workflow"]["nodes"]}
        assert "flt" not in nodes and nodes["comp"]["ports"]["inputs"][0]["name"] == "table"
        assert {(k["source"], k["target"]) for k in snap["workflow"]["connections"]} == {("digits", "comp"),
                                                                                         ("comp", "samp")}
        bad = c.post(f"/api/docs/{doc['id']}/edit", headers=H, json={"ops": [{"op": "make_component", "nodes": []}]})
        assert bad.status_code == 422 and "choose at least one node" in bad.text


def test_edits_inside_a_component_change_its_body_and_a_move_keeps_its_results(tmp_path):
    from tests.server.test_server_api import edit, new_doc

    with TestClient(create_app(tmp_path, TOKEN)) as c:
        doc = new_doc(c)
        edit(c, doc,
             {"op": "add", "id": "digits", "type": "deepnodes.data.DatasetReader", "config": {"dataset": "digits"},
              "position": [0, 0]},
             {"op": "add", "id": "comp", "type": "deepnodes.flow.Component", "config": {"body": sampling_body()},
              "position": [200, 0]},
             {"op": "connect", "source": "digits", "source_port": "table", "target": "comp", "target_port": "table"})
        assert c.post(f"/api/docs/{doc['id']}/execute", headers=H, json={"nodes": ["comp"]}).status_code == 200
        assert wait_state(c, doc["id"], "comp", timeout=60)["state"] == "executed"
        edit(c, doc, {"op": "move", "in": "comp", "id": "samp", "position": [50, 80]})
        snap = c.get(f"/api/docs/{doc['id']}", headers=H).json()
        body = next(n for n in snap["workflow"]["nodes"] if n["id"] == "comp")["config"]["body"]
        assert next(n for n in body["nodes"] if n["id"] == "samp")["position"] == [50, 80]
        assert snap["status"]["comp"]["state"] == "executed"  # a move changes nothing the body computes
        edit(c, doc, {"op": "config", "in": "comp", "id": "samp", "config": {"fraction": 0.25, "seed": 3}})
        snap = c.get(f"/api/docs/{doc['id']}", headers=H).json()
        body = next(n for n in snap["workflow"]["nodes"] if n["id"] == "comp")["config"]["body"]
        assert next(n for n in body["nodes"] if n["id"] == "samp")["config"]["fraction"] == 0.25
        assert snap["status"]["comp"]["state"] == "configured"  # a new option: the component runs again
        for bad, words in [({"op": "remove", "in": "digits", "id": "x"}, "holds no body"),
                           ({"op": "remove", "in": "comp", "id": "nope"}, "nope"),
                           ({"op": "add", "in": "comp", "id": "x", "type": "deepnodes.data.RowFilter",
                             "config": {"nope": 1}}, "nope")]:
            r = c.post(f"/api/docs/{doc['id']}/edit", headers=H, json={"ops": [bad]})
            assert r.status_code in (400, 404, 422) and words in r.text, r.text


def test_best_ops_give_the_edit_that_applies_a_searchs_best_configuration(tmp_path):
    from tests.flow.flow_bodies import holdout_body
    from tests.server.test_server_api import edit, new_doc

    space = {"lr": {"option": "learner.learning_rate", "kind": "choice", "choices": [0.0003, 0.03]}}
    with TestClient(create_app(tmp_path, TOKEN)) as c:
        doc = new_doc(c)
        edit(c, doc,
             {"op": "add", "id": "digits", "type": "deepnodes.data.DatasetReader", "config": {"dataset": "digits"},
              "position": [0, 0]},
             {"op": "add", "id": "search", "type": "deepnodes.flow.ParameterSearch", "position": [200, 0],
              "config": {"body": holdout_body(), "objective": "scorer.accuracy", "space": space, "strategy": "grid"}},
             {"op": "connect", "source": "digits", "source_port": "table", "target": "search", "target_port": "table"})
        url = f"/api/docs/{doc['id']}/nodes/search/best_ops"
        assert c.get(url, headers=H).status_code == 409  # not run yet
        assert c.post(f"/api/docs/{doc['id']}/execute", headers=H, json={"nodes": ["search"]}).status_code == 200
        assert wait_state(c, doc["id"], "search", timeout=120)["state"] == "executed"
        r = c.get(url, headers=H).json()
        best = c.get(f"/api/docs/{doc['id']}", headers=H).json()["status"]["search"]["scalars"]["best lr"]
        assert r["changes"] == [f"search/learner.learning_rate = {best!r}"]
        learner = next(n for n in r["ops"][0]["config"]["body"]["nodes"] if n["id"] == "learner")
        assert r["ops"][0]["id"] == "search" and learner["config"]["learning_rate"] == best
        bad = c.get(url + "?to=digits", headers=H)
        assert bad.status_code == 400 and "cannot be applied to 'digits'" in bad.text
        edit(c, doc, *r["ops"])  # sent as an ordinary config edit
        snap = c.get(f"/api/docs/{doc['id']}", headers=H).json()
        body = next(n for n in snap["workflow"]["nodes"] if n["id"] == "search")["config"]["body"]
        assert next(n for n in body["nodes"] if n["id"] == "learner")["config"]["learning_rate"] == best
