"""examples/image_classification_service.json as the README says: train and save with `deepnodes run`, serve with
`deepnodes serve-workflow`, POST real MNIST digits (on a small slice: 1 epoch on 1,000 of the MNIST test files)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("httpx")
sys.path.insert(0, str(Path(__file__).parent))
from digits_service import png_b64  # noqa: E402
from service_http_util import CLI, ENV, post, reference, start, stop  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "image_classification_service.json"


def test_served_mnist_example_answers_like_the_trained_network(tmp_path, mnist_dir):
    from deepnodes.core import Workflow, registry
    from deepnodes.datasets.registry import load_dataset
    from deepnodes.table.arrow import to_numpy

    registry.discover()
    wf = Workflow.load(EXAMPLE)
    for reader, limit in (("train_data", 1000), ("test_data", 200)):
        wf.set_option(reader, "local_folder", str(mnist_dir))
        wf.set_option(reader, "split", "test")
        wf.set_option(reader, "limit", limit)
    wf.set_option("learner", "epochs", 1)
    path = tmp_path / "service.json"
    wf.save(path)
    r = subprocess.run(CLI + ["run", str(path), "--save-results", "--quiet"], env=ENV, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    imgs = to_numpy(load_dataset("mnist", "test", str(mnist_dir), 1200).column("image"))[1000:1016, 0]
    proc, url = start(path, "--no-token")
    try:
        got = post(url, {"rows": [{"image": png_b64(i)} for i in imgs]}, token=None)
        assert got.status_code == 200, got.text
        rows = got.json()["rows"]
        classes, probs = reference(path, imgs)
        assert [row["prediction"] for row in rows] == classes
        np.testing.assert_allclose([row["probability"] for row in rows], probs, atol=1e-5)
        example = post(url, {"rows": [wf.instantiate("request").config.example]}, token=None)
        assert example.status_code == 200 and example.json()["rows"][0]["prediction"] in [str(d) for d in range(10)]
        small = post(url, {"rows": [{"image": png_b64(np.zeros((8, 8)))}]}, token=None)
        assert small.status_code == 422 and "28×28" in small.json()["error"]
    finally:
        stop(proc)
