"""examples/image_classification_service.json as the README says: train and save with `deepnodes run`, serve with
`deepnodes serve-workflow`, POST real Fashion-MNIST images (on a small slice: 1 epoch on 1,000 training images)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
sys.path.insert(0, str(Path(__file__).parent))
from digits_service import png_b64  # noqa: E402
from service_http_util import CLI, ENV, post, reference, start, stop  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "image_classification_service.json"


def test_served_fashion_example_answers_like_the_trained_network(tmp_path):
    from deepnodes.core import Workflow, registry
    from deepnodes.datasets.registry import load_dataset
    from deepnodes.table.arrow import to_numpy

    registry.discover()
    wf = Workflow.load(EXAMPLE)
    wf.set_option("train_data", "limit", 1000)
    wf.set_option("test_data", "limit", 300)
    wf.set_option("val_sample", "count", 100)
    wf.set_option("learner", "epochs", 1)
    path = tmp_path / "service.json"
    wf.save(path)
    r = subprocess.run(CLI + ["run", str(path), "--save-results", "--quiet"], env=ENV, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    imgs = to_numpy(load_dataset("fashion-mnist", "test", None, 1200).column("image"))[1000:1016, 0]  # unseen
    proc, url = start(path, "--no-token")
    try:
        got = post(url, {"rows": [{"image": png_b64(i)} for i in imgs]}, token=None)
        assert got.status_code == 200, got.text
        rows = got.json()["rows"]
        classes, probs = reference(path, imgs)
        assert [row["prediction"] for row in rows] == classes
        np.testing.assert_allclose([row["probability"] for row in rows], probs, atol=1e-5)
        example = post(url, {"rows": [wf.instantiate("request").config.example]}, token=None)
        assert example.status_code == 200 and example.json()["rows"][0]["prediction"] in {"Ankle boot", "Sneaker", "Bag",
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt"}
        small = post(url, {"rows": [{"image": png_b64(np.zeros((8, 8)))}]}, token=None)
        assert small.status_code == 422 and "28×28" in small.json()["error"]
        assert httpx.get(url + "/health").json()["runner"] == "bundle"  # the bundle's runner, a warm session
        engine, engine_url = start(path, "--no-token", "--no-fast-path")  # the workflow's own nodes, per request
        try:
            assert httpx.get(engine_url + "/health").json()["runner"] == "engine"
            for k in (1, 5, 16):  # alone and micro-batched: the rows the engine's nodes give, within 1e-5
                body = {"rows": [{"image": png_b64(i)} for i in imgs[:k]]}
                fast, slow = post(url, body, token=None).json()["rows"], post(engine_url, body, token=None).json()["rows"]
                assert [list(r) for r in fast] == [list(r) for r in slow]  # the same columns in the same order
                assert [r["prediction"] for r in fast] == [r["prediction"] for r in slow]
                np.testing.assert_allclose([r["probability"] for r in fast], [r["probability"] for r in slow],
                                           atol=1e-5)
        finally:
            stop(engine)
    finally:
        stop(proc)
