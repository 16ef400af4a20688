"""Issue 9, bug 9: a failed node's log holds its error once, as one sentence; the traceback is kept once, in the
node's status (shown by `--debug` and the editor's collapsed details), never copied into the log."""
from __future__ import annotations

import pytest

from deepnodes.core import Engine, Workflow


def _workflow(tmp_path, existing):
    return Workflow.from_json({"format": "deepnodes.workflow/1", "name": "bug9", "nodes": [
        {"id": "r", "type": "deepnodes.data.DatasetReader", "label": "Reader", "position": [0, 0],
         "config": {"dataset": "digits", "limit": 5}},
        {"id": "w", "type": "deepnodes.data.TableWriter", "label": "Writer", "position": [200, 0],
         "config": {"path": str(existing), "format": "parquet", "overwrite": False}}],
        "connections": [{"source": "r", "source_port": "table", "target": "w", "target_port": "table"}]})


@pytest.mark.parametrize("name", ["out.parquet", "a b.parquet", "ü.parquet"])
def test_user_error_is_logged_once_without_traceback(tmp_path, name):
    existing = tmp_path / name
    existing.write_bytes(b"x")
    eng = Engine(_workflow(tmp_path, existing))
    events = []
    eng.subscribe(events.append)
    res = eng.run()
    eng.flush()
    assert res.failed == ["w"]
    st = eng.status["w"]
    assert "exists and option 'overwrite' is off" in st.message
    logs = [e["line"] for e in events if e.get("type") == "log" and e.get("node") == "w"]
    assert len([x for x in logs if "overwrite" in x]) == 1, logs
    assert not any("Traceback" in x or "\n" in x for x in logs), logs
    assert st.traceback.count("Traceback (most recent call last)") == 1


def _adder(**cfg):
    from tests.core import fake_nodes  # noqa: F401  (registers test.Const and test.Add)

    return Workflow.from_json({"format": "deepnodes.workflow/1", "name": "bug9b", "nodes": [
        {"id": "c", "type": "test.Const", "label": "C", "position": [0, 0], "config": {}},
        {"id": "a", "type": "test.Add", "label": "A", "position": [0, 0], "config": cfg}],
        "connections": [{"source": "c", "source_port": "out", "target": "a", "target_port": "a"}]})


def test_user_error_and_bug_are_told_apart(monkeypatch):
    eng = Engine(_adder(fail=True))
    eng.run()
    assert eng.status["a"].state == "failed" and eng.status["a"].user_error
    from tests.core import fake_nodes

    monkeypatch.setattr(fake_nodes.Add, "execute", lambda self, inputs, ctx: {}["a key the code forgot"])
    eng = Engine(_adder())
    events = []
    eng.subscribe(events.append)
    eng.run()
    eng.flush()
    st = eng.status["a"]
    assert st.state == "failed" and not st.user_error and "KeyError" in st.traceback
    logs = [e["line"] for e in events if e.get("type") == "log" and e.get("node") == "a"]
    assert len(logs) == 1 and "Traceback" not in logs[0]


def test_editor_log_hides_the_traceback_of_a_user_error_only(tmp_path):
    from fastapi.testclient import TestClient

    from deepnodes.server.app import create_app

    existing = tmp_path / "exists.parquet"
    existing.write_bytes(b"x")
    app = create_app(tmp_path, "tok")
    h = {"X-DeepNodes-Token": "tok"}
    with TestClient(app) as client:
        doc = client.post("/api/docs/import", headers=h, json={"workflow": _workflow(tmp_path, existing).to_json()}).json()
        client.post(f"/api/docs/{doc['id']}/execute", headers=h, json={})
        import time

        for _ in range(200):
            st = client.get(f"/api/docs/{doc['id']}", headers=h).json()["status"]["w"]
            if st["state"] == "failed":
                break
            time.sleep(0.05)
        log = client.get(f"/api/docs/{doc['id']}/nodes/w/log", headers=h).json()
    assert "overwrite" in log["message"] and log["traceback"] == ""
    assert [x["line"] for x in log["lines"] if x["level"] == "error"] == [f"failed: {log['message']}"]
