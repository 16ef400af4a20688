"""Network formats: native round trips and its errors, ONNX (checker + ONNX Runtime within 1e-5), TorchScript,
Keras import, the network port handler, and the reader / writer / view nodes."""
import json
import os
import zipfile

import numpy as np
import pytest
import torch

from deepnodes.dl import graph
from deepnodes.dl.build import LayerBuilder, build_network
from deepnodes.dl.formats.native import NetworkFormatError, load_network, save_network
from deepnodes.dl.network import Network


def _cnn(seed=0):
    s = graph.input_spec([1, 28, 28])
    for kind, cfg in [("Conv2D", {"filters": 4, "kernel_size": 3, "activation": "relu"}), ("MaxPooling2D", {}),
                      ("BatchNormalization", {}), ("Flatten", {}), ("Dropout", {"rate": 0.5}),
                      ("Dense", {"units": 10, "activation": "softmax"})]:
        s, _ = graph.append_layer([s], kind, cfg)
    return Network(s, builder=LayerBuilder(), metadata={"class_names": [str(i) for i in range(10)]})


def _lstm_multi():
    t = graph.input_spec([-1], "int64", name="chars")
    t, _ = graph.append_layer([t], "Embedding", {"input_dim": 30, "output_dim": 8})
    t, _ = graph.append_layer([t], "LSTM", {"units": 16, "return_sequences": True, "return_state": True})
    d, _ = graph.append_layer([t], "Dense", {"units": 30, "activation": "softmax"})
    s, _ = graph.collect_outputs([d, t], ["dense_1", "lstm_1:1"])
    return Network(s, builder=LayerBuilder())


def _trained(net):
    """A built network with non-initial weights and batch-norm statistics."""
    m = net.module
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.01 * torch.randn_like(p))
    m.train()
    for _ in range(2):
        net.forward(*[_x(t) for t in net.spec.inputs])
    m.eval()
    return net


def _x(t, n=3):
    shape = (n, *[7 if d is None else d for d in t.shape])
    return torch.randint(0, 30, shape) if t.dtype == "int64" else torch.rand(shape)


def _same_outputs(a, b, xs, atol=0.0):
    a.module.eval(), b.module.eval()
    with torch.no_grad():
        for u, v in zip(a.forward(*xs), b.forward(*xs)):
            assert torch.allclose(u, v, atol=atol), (u - v).abs().max()


@pytest.mark.parametrize("name", ["net", "net.dnn"])
def test_native_round_trip(tmp_path, name):
    net = _trained(_cnn())
    p = save_network(net, tmp_path / name)
    back = load_network(p)
    assert back.spec == net.spec and back.metadata["class_names"] == net.metadata["class_names"]
    _same_outputs(net, back, [_x(net.spec.inputs[0])])
    bn = back.module.get_submodule("batch_normalization_1").bn
    assert torch.equal(bn.running_mean, net.module.get_submodule("batch_normalization_1").bn.running_mean)


def test_native_round_trip_multi_output_recurrent(tmp_path):
    net = _trained(_lstm_multi())
    back = load_network(save_network(net, tmp_path / "lm.dnn"))
    _same_outputs(net, back, [_x(net.spec.inputs[0])])


def test_untrained_network_stays_untrained_and_keeps_reused_modules(tmp_path):
    base = _trained(_cnn())
    s, ren = graph.append_layer([base.spec], "Dense", {"units": 3})
    from deepnodes.dl.build import extend_network

    ext = extend_network([base], s, ren)
    back = load_network(save_network(ext, tmp_path / "ext"))
    assert not back.built
    m = build_network(back, seed=1)
    assert torch.equal(m.get_submodule("conv2d_1").conv.weight, base.module.get_submodule("conv2d_1").conv.weight)


def test_newer_version_is_refused(tmp_path):
    p = save_network(_cnn(), tmp_path / "n")
    head = json.loads((p / "network.json").read_text())
    head["version"] = 99
    (p / "network.json").write_text(json.dumps(head))
    with pytest.raises(NetworkFormatError, match=r"written by a newer DeepNodes \(network format version 99"):
        load_network(p)


def test_corrupted_and_truncated_weights_are_refused(tmp_path):
    net = _trained(_cnn())
    p = save_network(net, tmp_path / "n")
    w = p / "weights.safetensors"
    data = bytearray(w.read_bytes())
    data[-5] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(NetworkFormatError, match="is truncated or corrupted"):
        load_network(p)
    w.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(NetworkFormatError, match="is truncated or corrupted"):
        load_network(p)
    # without the checksums (an edited header) the file is refused unless trusted; trusted, the truncated
    # weights are still refused
    head = json.loads((p / "network.json").read_text())
    head.pop("sha256")
    head.pop("sizes", None)
    (p / "network.json").write_text(json.dumps(head))
    with pytest.raises(NetworkFormatError, match="no checksum"):
        load_network(p)
    with pytest.raises(NetworkFormatError, match="truncated or corrupted"):
        load_network(p, trust=True)


def test_truncated_single_file_is_refused(tmp_path):
    p = save_network(_trained(_cnn()), tmp_path / "n.dnn")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 300])
    with pytest.raises(NetworkFormatError):
        load_network(p)
    with pytest.raises(NetworkFormatError, match="no network at"):
        load_network(tmp_path / "missing.dnn")


class _Custom(torch.nn.Module):  # a module DeepNodes cannot rebuild from a description
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.lin(x)


def test_opaque_module_needs_trust_both_ways(tmp_path):
    from deepnodes.dl.spec import NetworkSpec, TensorSpec

    net = Network(NetworkSpec((TensorSpec("x", (4,)),), (TensorSpec("y", (2,)),)), module=_Custom())
    with pytest.raises(NetworkFormatError, match="needs pickling, which only the trust option"):
        save_network(net, tmp_path / "c")
    p = save_network(net, tmp_path / "c", allow_pickle=True)
    with pytest.raises(NetworkFormatError, match="needs the trust option"):
        load_network(p)
    back = load_network(p, trust=True)
    _same_outputs(net, back, [torch.rand(2, 4)])


def test_onnx_round_trip_within_1e5(tmp_path):
    import onnx
    import onnxruntime as ort

    from deepnodes.dl.formats.onnx import export_onnx, onnx_metadata

    for net, name in ((_trained(_cnn()), "cnn"), (_trained(_lstm_multi()), "lm")):
        p = export_onnx(net, tmp_path / f"{name}.onnx", opset=17)
        onnx.checker.check_model(str(p))
        meta = onnx_metadata(p)
        assert meta["deepnodes.opset"] == "17" and json.loads(meta["deepnodes.spec"]) == net.spec.to_json()
        assert "exports" not in net.metadata  # exporting never writes into the network it was given
        sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        xs = [_x(t, n=11) for t in net.spec.inputs]  # another batch size than the export's
        got = sess.run(None, {i.name: x.numpy() for i, x in zip(sess.get_inputs(), xs)})
        with torch.no_grad():
            want = net.forward(*xs)
        assert [o.name for o in sess.get_outputs()] == [t.name for t in net.spec.outputs]
        for w, g in zip(want, got):
            assert np.abs(w.numpy() - g).max() <= 1e-5


def test_torchscript_round_trip(tmp_path):
    from deepnodes.dl.formats.torchscript import export_torchscript, import_torchscript

    net = _trained(_lstm_multi())
    back = import_torchscript(export_torchscript(net, tmp_path / "lm.pt"))
    assert [t.name for t in back.spec.outputs] == ["dense_1", "lstm_1:1"]
    _same_outputs(net, back, [torch.randint(0, 30, (4, 9))], atol=1e-6)




def test_keras_import_trains_and_round_trips(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs on another backend in this process")
    from deepnodes.dl.formats.keras import import_keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((10, 10, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    path = tmp_path / "small.keras"
    model.save(path)
    net = import_keras(path)
    assert net.spec.inputs[0].shape == (10, 10, 1) and net.spec.outputs[0].shape == (3,)
    x = np.random.default_rng(0).random((6, 10, 10, 1), dtype=np.float32)
    want = model.predict(x, verbose=0)
    net.module.eval()
    with torch.no_grad():
        got = net.forward(torch.from_numpy(x))[0].numpy()
    assert np.abs(want - got).max() < 1e-5
    # it trains like any network
    net.module.train()
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    opt = torch.optim.Adam(net.module.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = torch.nn.functional.nll_loss(torch.log(net.forward(torch.from_numpy(x))[0] + 1e-7), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7
    # saved natively without pickle (rebuilt from the Keras config) and read back with the trained weights
    back = load_network(save_network(net, tmp_path / "k.dnn"))
    _same_outputs(net, back, [torch.from_numpy(x)], atol=1e-6)
    # layers appended to it
    from deepnodes.dl.build import extend_network
    from deepnodes.nodes.layers.base import opaque_graph

    s, ren = graph.append_layer([opaque_graph(net)], "Dense", {"units": 2})
    assert extend_network([net], s, ren).forward(torch.from_numpy(x))[0].shape == (6, 2)


def test_keras_damaged_file_is_worded(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    from deepnodes.dl.formats.keras import import_keras

    p = tmp_path / "bad.keras"
    p.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="the Keras file .*bad.keras is not a zip archive"):
        import_keras(p)


def test_network_port_handler_and_summary(tmp_path):
    from deepnodes.dl.io import NETWORK_IO

    net = _cnn()
    s = NETWORK_IO.summary(net)
    assert not net.built  # summarising does not build (and so seed) the network
    rows = {r["layer"]: r for r in s["layers"]}
    assert rows["conv2d_1"]["trainable_params"] == 4 * 9 + 4 and rows["conv2d_1"]["output_shape"] == "(4, 26, 26)"
    assert rows["dense_1"]["trainable_params"] == 4 * 13 * 13 * 10 + 10
    assert s["trainable_params"] == sum(r["trainable_params"] for r in s["layers"])
    trained = _trained(_cnn())
    trained.module.get_submodule("conv2d_1").requires_grad_(False)
    rows = {r["layer"]: r for r in NETWORK_IO.summary(trained)["layers"]}
    assert rows["conv2d_1"]["frozen_params"] == 40 and rows["conv2d_1"]["trainable_params"] == 0
    name = NETWORK_IO.save(trained, str(tmp_path / "n1.network"))
    back = NETWORK_IO.load(str(tmp_path / name))
    _same_outputs(trained, back, [_x(trained.spec.inputs[0])])


def test_reader_writer_view_nodes(tmp_path):
    from deepnodes.core import Engine, Workflow

    target = tmp_path / "saved.dnn"
    wf = Workflow("io")
    wf.add("deepnodes.layers.Input", "in", {"shape": [6]})
    wf.add("deepnodes.layers.Dense", "d", {"units": 3})
    wf.connect("in", "network", "d", "input")
    wf.add("deepnodes.dl.NetworkWriter", "w", {"path": str(target)})
    wf.connect("d", "network", "w", "network")
    wf.add("deepnodes.dl.NetworkWriter", "wo", {"path": str(tmp_path / "saved.onnx"), "format": "onnx"})
    wf.connect("d", "network", "wo", "network")
    wf.add("deepnodes.dl.NetworkView", "v", {})
    wf.connect("d", "network", "v", "network")
    eng = Engine(wf)
    assert eng.run().ok, {k: v.message for k, v in eng.status.items()}
    assert target.exists() and zipfile.is_zipfile(target) and (tmp_path / "saved.onnx").exists()
    table = eng.output("v", "layers")
    assert table.column("layer").to_pylist() == ["input_1", "dense_1"]
    assert table.column("trainable_params").to_pylist() == [0, 21]
    assert eng.status["v"].scalars["trainable_params"] == 21

    wf2 = Workflow("read")
    wf2.add("deepnodes.dl.NetworkReader", "r", {"path": str(target)})
    eng2 = Engine(wf2)
    eng2.configure()
    assert eng2.status["r"].specs[0].outputs[0].shape == (3,)  # known before reading the weights
    assert eng2.run().ok
    assert eng2.output("r").forward(torch.rand(2, 6))[0].shape == (2, 3)

    wf3 = Workflow("bad")
    wf3.add("deepnodes.dl.NetworkReader", "r", {"path": str(tmp_path / "nothing.dnn")})
    eng3 = Engine(wf3)
    eng3.configure()
    assert eng3.status["r"].message.startswith("option 'path': there is no file or folder")


def test_onnx_reader_runs_the_model(tmp_path):
    import copy

    from deepnodes.dl.formats.onnx import export_onnx, import_onnx

    net = _trained(_cnn())
    back = import_onnx(export_onnx(net, tmp_path / "cnn.onnx"))
    assert back.spec.inputs == net.spec.inputs and back.spec.outputs == net.spec.outputs
    assert back.metadata["class_names"] == net.metadata["class_names"]
    x = _x(net.spec.inputs[0], n=5)
    with torch.no_grad():
        assert (back.forward(x)[0] - net.forward(x)[0]).abs().max() <= 1e-5
    assert torch.equal(copy.deepcopy(back.module)(x)[0], back.forward(x)[0])
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(ValueError, match="bad.onnx is not a valid ONNX model"):
        import_onnx(bad)
