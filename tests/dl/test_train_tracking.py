"""MLflow and TensorBoard logging of a training run, read back from what was written (a small CNN, real images)."""
import json

import pytest

from deepnodes.dl.options import TrainingOptions
from deepnodes.dl.train import train
from tests.dl.test_train_speed import SCE, net

mlflow = pytest.importorskip("mlflow")  # the mlflow and tensorboard extras
pytest.importorskip("tensorboard")


def layer_cnn():
    """A network of layer nodes (saved natively without pickling, exported to ONNX)."""
    from benchmarks.bench_learner import layer_network

    return layer_network([("Conv2D", {"filters": 4, "kernel_size": 3, "activation": "relu"}),
                          ("MaxPooling2D", {"pool_size": 2}), ("Flatten", {}),
                          ("Dense", {"units": 10, "activation": "softmax"})], {"shape": [1, 28, 28], "name": "image"})


@pytest.fixture(scope="module")
def data():
    from tests.dl.test_train_speed import SPEC, Binding, convert, fashion

    t = fashion(256)
    return [convert(t, Binding(("image",)), SPEC.inputs[0])], [convert(t, Binding(("label",), role="target"),
                                                                        SPEC.outputs[0])]


def test_mlflow_run_has_config_layers_metrics_and_network(data, tmp_path, monkeypatch):
    x, y = data
    monkeypatch.chdir(tmp_path)  # the default store: ./mlruns
    opts = TrainingOptions(epochs=2, batch_size=64, log_mlflow=True, mlflow_experiment="t")
    r = train(layer_cnn(), x, y, opts, SCE)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("t").experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    p = run.data.params
    assert p["epochs"] == "2" and p["batch_size"] == "64" and p["optimizer"] == "adam"
    hist = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in hist] == [1, 2]
    assert [m.value for m in hist] == pytest.approx([h["loss"] for h in r.history])
    names = {a.path for a in client.list_artifacts(run.info.run_id, "network")}
    assert {"network/network.dnn", "network/network.onnx"} <= names, run.data.tags
    local = client.download_artifacts(run.info.run_id, "layers.json", str(tmp_path))
    assert isinstance(json.load(open(local)), list)


def test_tensorboard_scalars_per_epoch_and_batch(data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = data
    opts = TrainingOptions(epochs=2, batch_size=32, log_tensorboard=True, tensorboard_dir=str(tmp_path / "tb"),
                           metrics_interval=0)
    r = train(net(), x, y, opts, SCE)
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"epoch/loss", "epoch/accuracy", "batch/loss", "batch/lr"} <= set(tags)
    ep = acc.Scalars("epoch/loss")
    assert [e.step for e in ep] == [1, 2]
    assert [e.value for e in ep] == pytest.approx([h["loss"] for h in r.history], rel=1e-6)
    assert [e.step for e in acc.Scalars("batch/loss")] == list(range(1, 17))  # every batch at interval 0

    assert not list((tmp_path / "tb").parent.glob("mlruns"))  # a TensorBoard-only run logs nothing to MLflow


def _tracking_workflow(folder, learner: dict):
    from deepnodes.core import Workflow

    wf = Workflow("tracking")
    wf.add("deepnodes.data.DatasetReader", "data", {"dataset": "fashion-mnist", "split": "test", "limit": 128})
    wf.add("deepnodes.data.ImageToTensor", "tensor", {"column": "image", "scale": "unit"})
    wf.add("deepnodes.layers.Input", "input", {"shape": [1, 28, 28], "name": "image"})
    wf.add("deepnodes.layers.Flatten", "flatten", {})
    wf.add("deepnodes.layers.Dense", "dense", {"units": 10, "activation": "softmax"})
    wf.add("deepnodes.dl.NetworkLearner", "learner", {"epochs": 1, "batch_size": 64,
                                                      "targets": [{"columns": ["class_name"]}], **learner})
    wf.connect("data", "table", "tensor", "table")
    for a, b in (("input", "flatten"), ("flatten", "dense"), ("dense", "learner")):
        wf.connect(a, "network", b, "network" if b == "learner" else "input")
    wf.connect("tensor", "table", "learner", "table")
    path = folder / "tracked.json"
    wf.save(path)
    return path


@pytest.mark.slow
def test_default_stores_are_beside_the_workflow_not_the_cwd(tmp_path):
    """`deepnodes run` from another folder: the MLflow store (default) and TensorBoard events (a relative folder)
    go beside the workflow file."""
    import os
    import subprocess
    import sys

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (tmp_path / "work").mkdir()
    (tmp_path / "elsewhere").mkdir()
    wf = _tracking_workflow(tmp_path / "work", {"log_mlflow": True, "mlflow_experiment": "w",
                                                "log_tensorboard": True, "tensorboard_dir": "tb"})
    code = "import sys; from deepnodes.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    run = subprocess.run([sys.executable, "-c", code, "run", str(wf), "--quiet"], cwd=tmp_path / "elsewhere",
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []  # nothing written where the command ran
    store = tmp_path / "work" / "mlruns"
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("w").experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "loss")] == [1]
    assert any((store / "artifacts").rglob("network.dnn"))
    events = sorted((tmp_path / "work").glob("tb/events.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert "epoch/loss" in acc.Tags()["scalars"]


@pytest.mark.parametrize("given,want", [("", "W/mlruns"), ("mlruns", "W/mlruns"), ("a/b", "W/a/b"),
                                        ("/abs/store", "/abs/store"), ("sqlite:///x/mlflow.db", "sqlite:///x/mlflow.db"),
                                        ("http://127.0.0.1:5000", "http://127.0.0.1:5000")])
def test_beside_puts_local_stores_under_the_workflow_folder(tmp_path, given, want):
    from deepnodes.dl.tracking import beside

    w = tmp_path / "wf"
    opts = beside(TrainingOptions(log_mlflow=True, mlflow_uri=given, log_tensorboard=True), w)
    assert opts.mlflow_uri == want.replace("W", str(w))
    assert opts.tensorboard_dir.startswith(str(w / "runs"))
    assert beside(TrainingOptions(log_mlflow=True), None).mlflow_uri == ""  # no workflow file: the current folder
    off = TrainingOptions()
    assert beside(off, w) == off  # nothing logged: nothing changed


@pytest.mark.parametrize("uri,is_uri", [("", False), ("mlruns", False), ("./a/b", False), ("/abs/store", False),
                                        ("~/store", False), ("C", False), ("sqlite:///x/mlflow.db", True),
                                        ("http://127.0.0.1:5000", True), ("file:///tmp/m", True),
                                        ("databricks", True), ("postgresql+psycopg2://h/db", True)])
def test_tracking_uri_or_folder(uri, is_uri):
    from deepnodes.dl.tracking import _is_uri

    assert _is_uri(uri) is is_uri
