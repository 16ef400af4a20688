"""examples/fashion_mnist_prep.json runs, on a limited slice, through the engine and the command line."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepnodes.core import Engine, Workflow
from deepnodes.table.arrow import spec_of, to_numpy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "fashion_mnist_prep.json"
pytestmark = pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists(),
                                reason="the Debian package dataset-fashion-mnist is not installed (make installs it)")


def test_example_runs_on_a_limited_slice():
    wf = Workflow.load(EXAMPLE)
    wf.set_option("reader", "limit", 500)
    eng = Engine(wf)
    eng.configure()
    configured = {n: st.specs for n, st in eng.status.items()}
    assert eng.run().ok
    first, second = eng.output("partition", "first"), eng.output("partition", "second")
    assert (first.num_rows, second.num_rows) == (400, 100)
    out, mapping = eng.output("class_to_number", "table"), eng.output("class_to_number", "mapping")
    x = to_numpy(out.column("image"))
    assert x.shape == (400, 1, 28, 28) and x.dtype == np.float32 and x.max() <= 1.0
    np.testing.assert_array_equal(out.column("class_name_index").to_numpy(), out.column("label").to_numpy())
    assert mapping.column("category").to_pylist()[:2] == ["T-shirt/top", "Trouser"]
    # every configured spec is the spec of what ran
    for nid in ("reader", "partition", "to_tensor", "class_to_number"):
        real = [spec_of(t) for t in eng.status[nid].outputs]
        assert real == configured[nid], nid


def test_example_runs_from_the_command_line(tmp_path):
    report = tmp_path / "report.json"
    r = subprocess.run([sys.executable, "-m", "deepnodes.cli", "run", str(EXAMPLE), "--set", "reader.limit=200",
                        "--quiet", "--report", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(report.read_text())
    assert {n: v["state"] for n, v in rep["nodes"].items()} == {
        "reader": "executed", "partition": "executed", "to_tensor": "executed", "class_to_number": "executed"}
    assert rep["nodes"]["class_to_number"]["outputs"]["table"]["rows"] == 160
