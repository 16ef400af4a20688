"""Keras export: the written .keras file, loaded in Keras, predicts what DeepNodes predicts (within 1e-5)."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras") if os.environ.get("CI") != "true" else __import__("keras")

from deepnodes.dl import graph  # noqa: E402
from deepnodes.dl.build import LayerBuilder  # noqa: E402
from deepnodes.dl.formats.keras_export import export_keras  # noqa: E402
from deepnodes.dl.formats.onnx import ExportError  # noqa: E402
from deepnodes.dl.network import Network  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LAYER_PREFIX = "deepnodes.layers."


def _flagship_network():
    """The layer chain of examples/image_classification.json (Input -> ... -> Dense), on 28x28 grey images."""
    wf = json.loads((ROOT / "examples" / "image_classification.json").read_text())
    nodes = {n["id"]: n for n in wf["nodes"]}
    nxt = {e["source"]: e["target"] for e in wf["connections"] if e["source_port"] == "network"}
    s = graph.input_spec([1, 28, 28], name="image")
    cur = nxt["input"]
    while nodes[cur]["type"].startswith(LAYER_PREFIX):
        s, _ = graph.append_layer([s], nodes[cur]["type"][len(LAYER_PREFIX):], nodes[cur].get("config", {}))
        cur = nxt[cur]
    return Network(s, builder=LayerBuilder(seed=3))


def _chain(shape, layers, dtype="float32"):
    s = graph.input_spec(shape, dtype)
    for kind, cfg in layers:
        s, _ = graph.append_layer([s], kind, cfg)
    return Network(s, builder=LayerBuilder(seed=5))


def _predict_both(net, path, x_torch):
    model = keras.saving.load_model(str(path), compile=False)
    with torch.no_grad():
        want = net.inference_module()(x_torch)
    want = (want[0] if isinstance(want, tuple) else want).numpy()
    x = x_torch.numpy()
    got = model.predict(np.moveaxis(x, 1, -1) if x.ndim >= 4 else x, verbose=0)
    return want, np.asarray(got)


def test_flagship_cnn_keras_file_predicts_like_deepnodes(tmp_path):
    net = _flagship_network()
    kinds = [e.kind for e in net.spec.layers]
    assert kinds == ["Input", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"]
    path = export_keras(net, tmp_path / "cnn.keras")
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(7))
    want, got = _predict_both(net, path, x)
    assert got.shape == (4, 10)
    assert np.max(np.abs(want - got)) < 1e-5
    model = keras.saving.load_model(str(path), compile=False)
    assert tuple(model.inputs[0].shape)[1:] == (28, 28, 1)  # channels last for the Keras user
    assert model.get_layer("conv2d_1").get_weights()[0].shape == (3, 3, 1, 32)


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_dense_recurrent_net_predicts_like_deepnodes(tmp_path, cell, return_sequences):
    net = _chain([6, 3], [("Dense", {"units": 5, "activation": "tanh"}),
                          (cell, {"units": 4, "return_sequences": return_sequences}),
                          ("Dense", {"units": 3, "activation": "softmax"})])
    path = export_keras(net, tmp_path / "rnn.keras")
    x = torch.randn(5, 6, 3, generator=torch.Generator().manual_seed(1))
    want, got = _predict_both(net, path, x)
    assert got.shape == want.shape
    assert np.max(np.abs(want - got)) < 1e-5


def test_image_layers_batchnorm_concat_and_global_pool(tmp_path):
    s0 = graph.input_spec([2, 9, 9])
    a, _ = graph.append_layer([s0], "Conv2D", {"filters": 3, "kernel_size": 3, "padding": "same", "strides": 2})
    b, _ = graph.append_layer([s0], "Conv2D", {"filters": 2, "kernel_size": 1, "strides": 2})
    c, _ = graph.append_layer([a, b], "Concatenate", {"axis": 1})
    c, _ = graph.append_layer([c], "BatchNormalization", {})
    c, _ = graph.append_layer([c], "AveragePooling2D", {"pool_size": 2})
    c, _ = graph.append_layer([c], "GlobalMaxPooling2D", {})
    c, _ = graph.append_layer([c], "Dense", {"units": 2})
    net = Network(c, builder=LayerBuilder(seed=2))
    with torch.no_grad():  # running statistics that are not the defaults, so the carried ones are checked
        bn = net.module.get_submodule("batch_normalization_1").bn
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    path = export_keras(net, tmp_path / "img.keras")
    want, got = _predict_both(net, path, torch.rand(3, 2, 9, 9, generator=torch.Generator().manual_seed(0)))
    assert np.max(np.abs(want - got)) < 1e-5


def test_layer_without_counterpart_is_refused_by_name_before_writing(tmp_path):
    net = _chain([4, 8], [("GaussianNoise", {"stddev": 0.1}), ("Flatten", {}), ("Dense", {"units": 2})])
    target = tmp_path / "n.keras"
    with pytest.raises(ExportError, match="layer 'gaussian_noise_1' \\(GaussianNoise\\)"):
        export_keras(net, target)
    assert list(tmp_path.iterdir()) == []


def test_other_files_are_never_replaced(tmp_path):
    net = _chain([3], [("Dense", {"units": 2})])
    other = tmp_path / "notes.keras"
    other.write_text("my notes")
    with pytest.raises(ExportError, match="is not a Keras file"):
        export_keras(net, other)
    assert other.read_text() == "my notes"
    with pytest.raises(ExportError, match="must end in .keras"):
        export_keras(net, tmp_path / "n.h5")


def test_network_writer_node_writes_keras(tmp_path):
    from deepnodes.core.node import NodeError
    from deepnodes.nodes.dl.network_files import NetworkWriter

    net = _chain([3], [("Dense", {"units": 2, "activation": "sigmoid"})])
    w = NetworkWriter({"path": str(tmp_path / "d.keras"), "format": "keras"})

    class Ctx:
        def log(self, *_):
            pass

    w.execute([net], Ctx())
    assert (tmp_path / "d.keras").is_file()
    bad = _chain([4, 8], [("GaussianNoise", {"stddev": 0.1})])
    with pytest.raises(NodeError, match="gaussian_noise_1"):
        NetworkWriter({"path": str(tmp_path / "e.keras"), "format": "keras"}).execute([bad], Ctx())


def test_embedding_lstm_net_predicts_like_deepnodes(tmp_path):
    net = _chain([7], [("Embedding", {"input_dim": 12, "output_dim": 4}), ("LSTM", {"units": 3}),
                       ("Dense", {"units": 2, "activation": "softmax"})], dtype="int64")
    path = export_keras(net, tmp_path / "emb.keras")
    x = torch.randint(0, 12, (4, 7), generator=torch.Generator().manual_seed(2))
    want, got = _predict_both(net, path, x)
    assert np.max(np.abs(want - got)) < 1e-5


from hypothesis import HealthCheck, event, given, settings, strategies as st  # noqa: E402


@st.composite
def _image_chains(draw):
    """Random conv / pool / batchnorm chains on small images, then Flatten or a global pooling, then Dense."""
    layers = []
    size = draw(st.integers(6, 10))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["Conv2D", "MaxPooling2D", "AveragePooling2D", "BatchNormalization"]))
        if kind == "Conv2D":
            k = draw(st.integers(1, 3))
            layers.append((kind, {"filters": draw(st.integers(1, 4)), "kernel_size": k,
                                  "strides": draw(st.integers(1, 2)), "padding": draw(st.sampled_from(["valid", "same"])),
                                  "activation": draw(st.sampled_from(["linear", "relu", "tanh", "sigmoid", "elu"]))}))
        elif kind.endswith("Pooling2D"):
            layers.append((kind, {"pool_size": 2}))
        else:
            layers.append((kind, {}))
    layers.append(draw(st.sampled_from([("Flatten", {}), ("GlobalAveragePooling2D", {}), ("GlobalMaxPooling2D", {})])))
    layers.append(("Dense", {"units": draw(st.integers(1, 5)), "activation": draw(st.sampled_from(["linear", "softmax"]))}))
    return [draw(st.integers(1, 3)), size, size], layers


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_image_chains())
def test_random_image_chains_predict_like_deepnodes_or_are_refused_in_a_sentence(tmp_path, chain):
    shape, layers = chain
    try:
        net = _chain(shape, layers)
        net.spec  # noqa: B018 - a chain whose shapes do not fit is not a network: nothing to export
    except ValueError:
        event("shapes do not fit")
        return
    try:
        path = export_keras(net, tmp_path / "r.keras")
    except ExportError as e:  # a refusal names the layer, in one line
        assert "layer '" in str(e) and "\n" not in str(e)
        event("refused")
        return
    event("exported")
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(4))
    want, got = _predict_both(net, path, x)
    assert np.max(np.abs(want - got)) < 1e-5


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("merge,return_sequences", [("concat", True), ("sum", False), ("ave", True), ("mul", False)])
def test_bidirectional_and_layer_norm_predict_like_deepnodes(tmp_path, cell, merge, return_sequences):
    layers = [("Bidirectional", {"layer": cell, "units": 5, "merge_mode": merge, "return_sequences": return_sequences}),
              ("LayerNormalization", {"axis": -1, "epsilon": 1e-3})]
    if return_sequences:
        layers.append(("Flatten", {}))
    net = _chain([6, 3], layers + [("Dense", {"units": 4})])
    with torch.no_grad():  # a non-trivial gamma / beta
        ln = net.module.get_submodule(net.spec.layers[2].name)
        ln.weight.copy_(torch.linspace(0.5, 1.5, ln.weight.numel()))
        ln.bias.copy_(torch.linspace(-0.2, 0.3, ln.bias.numel()))
    path = export_keras(net, tmp_path / "birnn.keras")
    want, got = _predict_both(net, path, torch.rand(3, 6, 3, generator=torch.Generator().manual_seed(2)))
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-5


def test_layer_norm_of_a_whole_image_and_refusal_of_a_partial_one(tmp_path):
    net = _chain([2, 5, 5], [("LayerNormalization", {"axis": [1, 2, 3]}), ("Flatten", {}), ("Dense", {"units": 3})])
    with torch.no_grad():
        ln = net.module.get_submodule(net.spec.layers[1].name)
        ln.weight.copy_(torch.rand(ln.weight.shape, generator=torch.Generator().manual_seed(4)) + 0.5)
    path = export_keras(net, tmp_path / "ln.keras")
    want, got = _predict_both(net, path, torch.rand(2, 2, 5, 5, generator=torch.Generator().manual_seed(3)))
    assert np.abs(got - want).max() < 1e-5
    partial = _chain([2, 5, 5], [("LayerNormalization", {"axis": -1}), ("Flatten", {}), ("Dense", {"units": 3})])
    with pytest.raises(ExportError, match="LayerNormalization.*normalise the whole image"):
        export_keras(partial, tmp_path / "partial.keras")
    assert not (tmp_path / "partial.keras").exists()


@pytest.mark.parametrize("cfg", [{"num_heads": 2, "key_dim": 3}, {"num_heads": 3, "key_dim": 2, "value_dim": 4,
                                                                  "output_dim": 5, "use_causal_mask": True},
                                 {"num_heads": 1, "key_dim": 4, "use_bias": False}])
def test_multi_head_attention_predicts_like_deepnodes(tmp_path, cfg):
    s0 = graph.input_spec([5, 4])
    e, _ = graph.append_layer([s0], "Dense", {"units": 6})
    a, _ = graph.append_layer([e, s0], "MultiHeadAttention", cfg)  # query: the projection, value: the input
    a, _ = graph.append_layer([a], "LayerNormalization", {})
    a, _ = graph.append_layer([a], "Flatten", {})
    a, _ = graph.append_layer([a], "Dense", {"units": 2})
    net = Network(a, builder=LayerBuilder(seed=4))
    path = export_keras(net, tmp_path / "mha.keras")
    want, got = _predict_both(net, path, torch.rand(3, 5, 4, generator=torch.Generator().manual_seed(6)))
    assert got.shape == want.shape and np.max(np.abs(want - got)) < 1e-5


@pytest.mark.parametrize("kind,cfg,cross", [
    ("TransformerEncoder", {"intermediate_dim": 8, "num_heads": 2}, False),
    ("TransformerEncoder", {"intermediate_dim": 6, "num_heads": 3, "normalize_first": True, "activation": "gelu"}, False),
    ("TransformerDecoder", {"intermediate_dim": 8, "num_heads": 2}, False),
    ("TransformerDecoder", {"intermediate_dim": 8, "num_heads": 2, "normalize_first": True}, True)])
def test_transformer_blocks_predict_like_deepnodes(tmp_path, kind, cfg, cross):
    s0 = graph.input_spec([5, 6])
    x, _ = graph.append_layer([s0], "Dense", {"units": 6})
    ins = [x, s0] if cross else [x]  # a decoder's cross-attention reads the encoder sequence (here the input)
    b, _ = graph.append_layer(ins, kind, cfg)
    b, _ = graph.append_layer([b], "Flatten", {})
    b, _ = graph.append_layer([b], "Dense", {"units": 2})
    net = Network(b, builder=LayerBuilder(seed=8))
    with torch.no_grad():  # layer norms that are not the identity
        for mod in net.module.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(1))
                mod.bias.uniform_(-0.3, 0.3, generator=torch.Generator().manual_seed(2))
    path = export_keras(net, tmp_path / "block.keras")
    want, got = _predict_both(net, path, torch.rand(3, 5, 6, generator=torch.Generator().manual_seed(9)))
    assert got.shape == want.shape and np.max(np.abs(want - got)) < 1e-5
