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
