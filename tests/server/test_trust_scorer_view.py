"""Issue 17 section 7: the editor's scorer view on the real Scorer node (not a test double), against counts and
figures worked out by hand for a fixed set of 12 predictions."""
import time

import pytest
from fastapi.testclient import TestClient

from deepnodes.server.app import create_app

TOKEN = "test-token-scorer"
H = {"X-DeepNodes-Token": TOKEN}

# actual cat ×5, dog ×4, fox ×3; predicted: cat 4 right 1 as dog; dog 3 right 1 as fox; fox 2 right 1 as cat
ROWS = ([("cat", "cat")] * 4 + [("cat", "dog")] + [("dog", "dog")] * 3 + [("dog", "fox")]
        + [("fox", "fox")] * 2 + [("fox", "cat")])
COUNTS = [[4, 1, 0], [0, 3, 1], [1, 0, 2]]
PRECISION = {"cat": 4 / 5, "dog": 3 / 4, "fox": 2 / 3}   # column sums 5, 4, 3
RECALL = {"cat": 4 / 5, "dog": 3 / 4, "fox": 2 / 3}      # row sums 5, 4, 3


@pytest.fixture
def client(tmp_path):
    (tmp_path / "predictions.csv").write_text("truth,prediction\n" + "".join(f"{a},{p}\n" for a, p in ROWS))
    with TestClient(create_app(tmp_path, TOKEN)) as c:
        yield c


def test_the_scorer_view_of_a_real_scorer_shows_the_hand_counted_matrix_and_figures(client, tmp_path):
    doc = client.post("/api/docs/new", headers=H, json={"name": "scores"}).json()
    r = client.post(f"/api/docs/{doc['id']}/edit", headers=H, json={"ops": [
        {"op": "add", "id": "read", "type": "deepnodes.data.CSVReader",
         "config": {"path": str(tmp_path / "predictions.csv")}},
        {"op": "add", "id": "score", "type": "deepnodes.data.Scorer",
         "config": {"truth_column": "truth", "prediction_column": "prediction"}},
        {"op": "connect", "source": "read", "source_port": "table", "target": "score", "target_port": "table"}]})
    assert r.status_code == 200, r.text
    assert client.post(f"/api/docs/{doc['id']}/execute", headers=H, json={}).status_code == 200
    t0 = time.time()
    while True:
        d = client.get(f"/api/docs/{doc['id']}", headers=H).json()
        if d["status"]["score"]["state"] in ("executed", "failed") and not d["running"]:
            break
        assert time.time() - t0 < 30, d["status"]
        time.sleep(0.05)
    assert d["status"]["score"]["state"] == "executed", d["status"]["score"]

    v = client.get(f"/api/docs/{doc['id']}/nodes/score/scorer", headers=H).json()
    m = v["confusion_matrix"]
    assert m["port"] == "confusion_matrix" and m["actual"] == ["cat", "dog", "fox"]
    assert m["counts"] == COUNTS
    per = v["per_class"]
    assert per["port"] == "class_statistics"
    rows = {r[0]: dict(zip(per["columns"], r)) for r in per["rows"]}  # the first column names the class
    for cls in ("cat", "dog", "fox"):
        assert rows[cls]["precision"] == pytest.approx(PRECISION[cls])
        assert rows[cls]["recall"] == pytest.approx(RECALL[cls])
    assert v["scalars"]["accuracy"] == pytest.approx(9 / 12)
