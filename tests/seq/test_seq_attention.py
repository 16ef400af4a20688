import pytest
import torch

from deepnodes.dl import graph
from deepnodes.dl.build import build_layer
from deepnodes.dl.layers import get_layer
from deepnodes.dl.spec import LayerEntry, TensorSpec


def _layer(kind, config, specs):
    cfg, outs = get_layer(kind).infer("att", specs, config)
    return build_layer(LayerEntry("att", kind, cfg, (), outs), specs, seed=0), outs


Q = TensorSpec("dec", (None, 6))
V = TensorSpec("enc", (9, 6))
IDS = TensorSpec("src", (9,), "int64")


def test_dot_attention_is_softmax_of_scores_times_value_and_masks_padding():
    m, outs = _layer("Attention", {"return_attention_scores": True}, [Q, V, IDS])
    assert [o.shape for o in outs] == [(None, 6), (None, 9)]
    q, v = torch.randn(2, 4, 6), torch.randn(2, 9, 6)
    ids = torch.ones(2, 9, dtype=torch.long)
    ids[1, 6:] = 0
    y, w = m(q, v, ids)
    want_w = torch.softmax(q @ v.transpose(1, 2), -1)
    assert torch.allclose(w[0], want_w[0], atol=1e-6) and torch.allclose(y[0], want_w[0] @ v[0], atol=1e-5)
    assert (w[1, :, 6:] == 0).all() and torch.allclose(w[1].sum(-1), torch.ones(4))


def test_additive_attention_scores():
    m, outs = _layer("AdditiveAttention", {}, [Q, V])
    assert [o.shape for o in outs] == [(None, 6)]
    q, v = torch.randn(2, 3, 6), torch.randn(2, 9, 6)
    s = (torch.tanh(q.unsqueeze(2) + v.unsqueeze(1)) * m.scale).sum(-1)
    assert torch.allclose(m(q, v), torch.softmax(s, -1) @ v, atol=1e-5)
    assert sum(p.numel() for p in m.parameters()) == 6  # Keras: one learned scale vector


def test_attention_shape_errors_are_sentences():
    with pytest.raises(ValueError, match="same feature size D"):
        get_layer("Attention").infer("a", [Q, TensorSpec("enc", (9, 5))], {})
    with pytest.raises(ValueError, match=r"needs a value of shape \(T, D\)"):
        get_layer("AdditiveAttention").infer("a", [Q, TensorSpec("enc", (5,))], {})
    with pytest.raises(ValueError, match="value_ids from src have 8 steps"):
        get_layer("Attention").infer("a", [Q, V, TensorSpec("src", (8,), "int64")], {})


def test_attention_node_in_a_graph():
    q = graph.input_spec([None, 6], name="q")
    v = graph.input_spec([9, 6], name="v")
    spec, _ = graph.append_layer([q, v], "Attention", {"use_scale": True})
    assert spec.outputs[0].shape == (None, 6) and spec.layers[-1].name == "attention_1"
    from deepnodes.core.registry import get

    node = get("deepnodes.layers.AdditiveAttention")({})
    assert node.configure([q, v])[0].outputs[0].shape == (None, 6)
