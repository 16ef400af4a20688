"""`deepnodes export` of a workflow on number columns: the fitted normalizer travels as data (its own JSON) and the
bundle's predict.py, run where only onnxruntime, numpy and pillow can be imported, gives the workflow's numbers."""
import json
import os
import subprocess

import numpy as np
import pytest

from deepnodes.cli import main
from deepnodes.core import Engine, Workflow
from tests.bundle.test_bundle_export import _plain_python

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _iris(tmp, method: str):
    """Real rows: scikit-learn's iris, training rows in one CSV and every 10th row held out in another."""
    from sklearn.datasets import load_iris

    d = load_iris()
    rows = [",".join(f"{v:g}" for v in x) + f",{int(t)}" for x, t in zip(d.data, d.target)]
    head = ",".join(FEATURES + ["species"])
    (tmp / "train.csv").write_text("\n".join([head] + [r for i, r in enumerate(rows) if i % 10]) + "\n")
    (tmp / "test.csv").write_text("\n".join([head] + rows[::10]) + "\n")

    def n(i, t, c=None):
        return {"id": i, "type": t, "config": c or {}}

    def link(a, ap, b, bp):
        return {"source": a, "source_port": ap, "target": b, "target_port": bp}

    binding = [{"columns": FEATURES, "converter": "numbers"}]
    nodes = [n("train", "deepnodes.data.CSVReader", {"path": str(tmp / "train.csv")}),
             n("test", "deepnodes.data.CSVReader", {"path": str(tmp / "test.csv")}),
             n("norm", "deepnodes.data.Normalizer", {"columns": FEATURES, "method": method}),
             n("apply", "deepnodes.data.NormalizerApply"),
             n("input", "deepnodes.layers.Input", {"name": "features", "shape": [4]}),
             n("dense", "deepnodes.layers.Dense", {"units": 3, "activation": "softmax"}),
             n("learner", "deepnodes.dl.NetworkLearner", {"epochs": 20, "seed": 1, "batch_size": 16, "inputs": binding,
                                                           "targets": [{"columns": ["species"], "loss":
                                                                        "sparse_categorical_crossentropy"}]}),
             n("executor", "deepnodes.dl.NetworkExecutor", {"backend": "torch", "inputs": binding})]
    conns = [link("train", "table", "norm", "table"), link("norm", "model", "apply", "model"),
             link("test", "table", "apply", "table"), link("input", "network", "dense", "input"),
             link("dense", "network", "learner", "network"), link("norm", "table", "learner", "table"),
             link("learner", "network", "executor", "network"), link("apply", "table", "executor", "table")]
    p = tmp / "iris.json"
    p.write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "iris", "nodes": nodes, "connections": conns}))
    return p


@pytest.mark.parametrize("method", ["zscore", "minmax"])
def test_bundle_normalizes_number_columns_like_the_workflow(tmp_path, method):
    wf_path = _iris(tmp_path, method)
    engine = Engine(Workflow.load(wf_path))
    res = engine.run()
    assert res.ok, {k: v.message for k, v in engine.status.items() if v.state != "executed"}
    engine.save_results(wf_path.with_suffix(".results"))
    want = engine.output("executor", "table").to_pylist()
    assert main(["export", str(wf_path), "--out", str(tmp_path / "bundle")]) == 0
    out = tmp_path / "bundle"
    b = json.loads((out / "bundle.json").read_text())
    step = b["inputs"][0]["steps"][0]
    assert b["inputs"][0]["columns"] == FEATURES and step["op"] == "normalize"
    assert step["normalizer"] == engine.output("norm", "model").to_json()  # the fitted parameters, as data
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{c: r[c] for c in FEATURES} for r in engine.output("test").to_pylist()]))
    env = {"PATH": os.environ.get("PATH", ""), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(_plain_python(tmp_path) + [str(out / "predict.py"), str(rows)], capture_output=True,
                       text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    name = b["outputs"][0]["name"]
    assert len(got) == len(want) == 15
    for g, w in zip(got, want):
        assert np.max(np.abs(np.asarray(g[name]) - np.asarray(w[name]).ravel())) < 1e-5
    accuracy = np.mean([int(np.argmax(g[name])) == w["species"] for g, w in zip(got, want)])
    assert accuracy > 0.6  # a trained network, not noise (3 classes)


SIZES = ["large", "medium", "small"]  # sorted: the numbers Category to Number gives the training table


def _served_iris(tmp):
    """Iris with a category column (the petal length's size class) served: Service Input (4 numbers and the
    category with its declared values) -> Category to Number -> Normalizer Apply -> Executor -> Service Output."""
    from sklearn.datasets import load_iris

    d = load_iris()
    size = lambda x: SIZES[2] if x[2] < 2.5 else SIZES[1] if x[2] < 5 else SIZES[0]  # noqa: E731
    lines = [",".join(FEATURES + ["size", "species"])] + [
        ",".join(f"{v:g}" for v in x) + f",{size(x)},{int(t)}" for x, t in zip(d.data, d.target)]
    (tmp / "train.csv").write_text("\n".join(lines) + "\n")
    cols = FEATURES + ["size_num"]
    binding = [{"columns": cols, "converter": "numbers"}]
    service_cols = [{"name": f, "kind": "number"} for f in FEATURES] + [
        {"name": "size", "kind": "category", "categories": SIZES}]
    wf = Workflow("served iris")
    wf.add("deepnodes.data.CSVReader", "train", {"path": str(tmp / "train.csv")})
    wf.add("deepnodes.data.CategoryToNumber", "train_c2n", {"columns": ["size"], "suffix": "_num"})
    wf.add("deepnodes.data.Normalizer", "norm", {"columns": FEATURES, "method": "zscore"})
    wf.add("deepnodes.layers.Input", "input", {"name": "features", "shape": [5]})
    wf.add("deepnodes.layers.Dense", "dense", {"units": 3, "activation": "softmax"})
    wf.add("deepnodes.dl.NetworkLearner", "learner", {"epochs": 20, "seed": 1, "batch_size": 16, "inputs": binding,
                                                       "targets": [{"columns": ["species"],
                                                                    "loss": "sparse_categorical_crossentropy"}]})
    wf.add("deepnodes.service.ServiceInput", "request", {"columns": service_cols, "example": {
        "sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "size": "small"}})
    wf.add("deepnodes.data.CategoryToNumber", "c2n", {"columns": ["size"], "suffix": "_num"})
    wf.add("deepnodes.data.NormalizerApply", "apply")
    wf.add("deepnodes.dl.NetworkExecutor", "executor", {"backend": "torch", "inputs": binding})
    wf.add("deepnodes.service.ServiceOutput", "response", {"columns": ["dense_1"]})
    for a, ap, b, bp in [("train", "table", "train_c2n", "table"), ("train_c2n", "table", "norm", "table"),
                         ("input", "network", "dense", "input"), ("dense", "network", "learner", "network"),
                         ("norm", "table", "learner", "table"), ("request", "table", "c2n", "table"),
                         ("c2n", "table", "apply", "table"), ("norm", "model", "apply", "model"),
                         ("learner", "network", "executor", "network"), ("apply", "table", "executor", "table"),
                         ("executor", "table", "response", "table")]:
        wf.connect(a, ap, b, bp)
    p = tmp / "served.json"
    wf.save(p)
    return p, d, size


def test_bundle_maps_declared_categories_and_normalizes_like_the_served_workflow(tmp_path):
    from deepnodes.core import registry
    from deepnodes.service.decode import decode_rows
    from deepnodes.service.segment import Segment

    registry.discover()
    wf_path, d, size = _served_iris(tmp_path)
    engine = Engine(Workflow.load(wf_path))
    res = engine.run()
    assert res.ok, {k: v.message for k, v in engine.status.items() if v.state != "executed"}
    engine.save_results(wf_path.with_suffix(".results"))
    assert main(["export", str(wf_path), "--out", str(tmp_path / "bundle")]) == 0
    b = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    inp = b["inputs"][0]
    assert [s["op"] for s in inp["steps"]] == ["category", "normalize"]
    assert inp["steps"][0]["columns"] == {"size": SIZES} and inp["raw_columns"] == FEATURES + ["size"]
    rows = [{**dict(zip(FEATURES, map(float, x))), "size": size(x)} for x in d.data[::7]]
    seg = Segment(Workflow.load(wf_path), wf_path.with_suffix(".results"))
    want = seg.run(decode_rows(seg.columns, rows, 100)).column("dense_1").to_pylist()
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    env = {"PATH": os.environ.get("PATH", ""), "OMP_NUM_THREADS": "1"}
    py = _plain_python(tmp_path)
    r = subprocess.run(py + [str(tmp_path / "bundle" / "predict.py"), str(tmp_path / "rows.json")],
                       capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line)[b["outputs"][0]["name"]] for line in r.stdout.splitlines()]
    assert len(got) == len(want) == len(rows)
    assert np.max(np.abs(np.asarray(got) - np.asarray(want))) < 1e-5
    (tmp_path / "bad.json").write_text(json.dumps([{**rows[0], "size": "huge"}]))
    r = subprocess.run(py + [str(tmp_path / "bundle" / "predict.py"), str(tmp_path / "bad.json")],
                       capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode != 0 and "column 'size'" in r.stderr and "'huge'" in r.stderr
    # the service's bundle runner takes the same plan (numbers, categories, the normalizer) for this segment
    from deepnodes.service.compiled import compile_segment
    from deepnodes.service.decode import table_rows

    served = Workflow.load(wf_path)
    served.set_option("executor", "backend", "auto")
    served.set_option("response", "columns", ["prediction", "probability"])
    seg = Segment(served, wf_path.with_suffix(".results"))
    table = decode_rows(seg.columns, rows, 100)
    got, want = (table_rows(t, seg.output_columns) for t in (compile_segment(seg).run(table), seg.run(table)))
    assert [g["prediction"] for g in got] == [w["prediction"] for w in want]
    np.testing.assert_allclose([g["probability"] for g in got], [w["probability"] for w in want], atol=1e-5)
