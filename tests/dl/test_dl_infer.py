"""Batch inference: torch and ONNX Runtime agree, the export is cached per weights, fallbacks, columns."""
import numpy as np
import pyarrow as pa
import pytest
import torch
from torch import nn

from deepnodes.dl import infer
from deepnodes.dl.convert import Binding, convert
from deepnodes.dl.infer import InferenceError, predict, predictions_table
from deepnodes.dl.network import Network
from deepnodes.dl.spec import NetworkSpec, TensorSpec
from tests.dl.dl_data import CLASSES, fashion

SPEC = NetworkSpec((TensorSpec("image", (1, 28, 28)),), (TensorSpec("probs", (10,)),))


def cnn_net():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5),
                      nn.Linear(8 * 13 * 13, 10), nn.Softmax(-1))
    return Network(SPEC, module=m, metadata={"output_activations": ["softmax"], "class_names": CLASSES})


@pytest.fixture(scope="module")
def x():
    return convert(fashion(300), Binding(("image",)), SPEC.inputs[0])


def test_torch_and_onnxruntime_agree_and_feature_taps(x):
    net = cnn_net()
    (a,), used_a = predict(net, [x], backend="torch", batch_size=128)
    (b,), used_b = predict(net, [x], backend="auto", batch_size=100, device="cpu")
    assert (used_a, used_b) == ("torch", "onnxruntime")
    assert a.shape == (300, 10) and np.abs(a - b).max() < 1e-5
    (o, f), used = predict(net, [x], layers=["3"], device="cpu")  # the Flatten output, next to the network output
    assert used == "onnxruntime", f"fell back to torch: {list(infer._FAILED.values())}"
    assert f.shape == (300, 8 * 13 * 13) and np.abs(o - a).max() < 1e-5
    (f2,), _ = predict(net, [x], outputs=[], layers=["3"], backend="torch")
    assert np.abs(f - f2).max() < 1e-5
    assert not any(m._forward_hooks for m in net.module.modules())  # taps leave no hooks behind


def test_export_is_cached_per_weights(x, monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPNODES_CACHE", str(tmp_path))  # an empty cache: the first call must export
    monkeypatch.setattr(infer, "_SESSIONS", {})
    calls = []
    real = infer._export
    monkeypatch.setattr(infer, "_export", lambda n, p: (calls.append(p), real(n, p)))
    net = cnn_net()
    with torch.no_grad():
        net.module[0].bias.add_(0.123)  # weights no earlier test exported
    predict(net, [x], device="cpu")
    predict(net, [x], device="cpu")
    assert len(calls) == 1 and len(list((tmp_path / "onnx").glob("*.onnx"))) == 1
    infer._SESSIONS.clear()
    predict(net, [x], device="cpu")  # a new process: the file in the cache is reused
    assert len(calls) == 1
    with torch.no_grad():
        net.module[0].bias.add_(1.0)
    predict(net, [x], device="cpu")
    assert len(calls) == 2


class NumpyInside(nn.Module):
    """Leaves torch for numpy in forward: a trace would bake the input in, so the export is not clean."""

    def forward(self, x):
        return torch.from_numpy(np.tanh(x.detach().numpy().reshape(len(x), -1)[:, :10]).copy())


def test_network_that_does_not_export_runs_with_torch(x):
    net = Network(SPEC, module=NumpyInside())
    logs = []
    (a,), used = predict(net, [x], log=logs.append, device="cpu")
    assert used == "torch" and a.shape == (300, 10)
    assert logs and "does not export to ONNX cleanly" in logs[0]
    with pytest.raises(InferenceError, match="option 'backend' is 'onnxruntime' but the network does not export"):
        predict(net, [x], backend="onnxruntime", device="cpu")


def test_unknown_output_and_layer(x):
    net = cnn_net()
    with pytest.raises(InferenceError, match="option 'outputs': the network has no output 'nope'; its outputs are 'probs'"):
        predict(net, [x], outputs=["nope"])
    with pytest.raises(InferenceError, match="option 'layers': the network has no layer 'dense_9'"):
        predict(net, [x], layers=["dense_9"], backend="torch")


def test_prediction_columns_with_class_names_and_binary():
    net = cnn_net()
    probs = np.array([[0.1] * 9 + [0.1], [0.0] * 9 + [1.0]], np.float32)
    probs[0, 3] = 0.5
    t = predictions_table(pa.table({"id": [1, 2]}), net, [probs], ["probs"], [0])
    assert t.column("prediction").to_pylist() == ["Dress", "Ankle boot"]
    assert t.column("probability").to_pylist() == pytest.approx([0.5, 1.0])
    cols = predictions_table(pa.table({"id": [1, 2]}), net, [probs], ["probs"], [0], output_format="columns",
                             append_class=False)
    assert cols.column_names == ["id"] + [f"probs_{i}" for i in range(10)]
    spec = NetworkSpec((TensorSpec("x", (2,)),), (TensorSpec("p", (1,)),))
    binary = Network(spec, module=nn.Sequential(nn.Linear(2, 1), nn.Sigmoid()),
                     metadata={"output_activations": ["sigmoid"], "class_names": ["no", "yes"]})
    t = predictions_table(pa.table({"id": [1, 2]}), binary, [np.array([[0.2], [0.9]], np.float32)], ["p"], [0])
    assert t.column("prediction").to_pylist() == ["no", "yes"]
    assert t.column("probability").to_pylist() == pytest.approx([0.8, 0.9])
