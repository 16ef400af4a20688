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
