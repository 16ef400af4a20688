"""Transformer layers: the blocks equal the same network built from primitive layers (MultiHeadAttention, Add,
LayerNormalization, Dense) with the same weights; position encodings; attention scores as a second output."""
from __future__ import annotations

import math

import pytest
import torch

from deepnodes.dl.build import build_module
from deepnodes.dl.graph import append_layer, input_spec
from deepnodes.dl.layers import get_layer
from deepnodes.dl.spec import TensorSpec


class G:
    """A tiny builder over `graph.append_layer` (the function the layer nodes call)."""

    def __init__(self):
        self.specs = {}

    def input(self, name, shape):
        self.specs[name] = input_spec(shape, name=name)
        return name

    def add(self, name, kind, ins, **config):
        spec, _ = append_layer([self.specs[i] for i in ins], kind, config, name=name)
        self.specs[name] = spec
        return name


def _residual(g, x, sub, norm, pre, eps):
    """post-norm: norm(x + sub(x)); pre-norm: x + sub(norm(x))."""
    if pre:
        h = g.add(f"{norm}", "LayerNormalization", [x], epsilon=eps)
        y = sub(h)
        return g.add(f"{norm}_add", "Add", [y, x])
    y = sub(x)
    r = g.add(f"{norm}_add", "Add", [y, x])
    return g.add(norm, "LayerNormalization", [r], epsilon=eps)


def primitive_block(g, x, f, heads, inter, pre, causal, enc=None, eps=1e-5):
    kd = f // heads
    x = _residual(g, x, lambda h: g.add("self_attention", "MultiHeadAttention", [h, h], num_heads=heads, key_dim=kd,
                                        use_causal_mask=causal), "self_attention_layer_norm", pre, eps)
    if enc is not None:
        x = _residual(g, x, lambda h: g.add("cross_attention", "MultiHeadAttention", [h, enc], num_heads=heads,
                                            key_dim=kd, output_dim=f), "cross_attention_layer_norm", pre, eps)

    def ffn(h):
        a = g.add("feedforward_intermediate_dense", "Dense", [h], units=inter, activation="relu")
        return g.add("feedforward_output_dense", "Dense", [a], units=f)

    return _residual(g, x, ffn, "feedforward_layer_norm", pre, eps)


CASES = [("TransformerEncoder", False, False), ("TransformerEncoder", True, False),
         ("TransformerDecoder", False, False), ("TransformerDecoder", True, False),
         ("TransformerDecoder", False, True), ("TransformerDecoder", True, True)]


@pytest.mark.parametrize("kind,pre,cross", CASES)
def test_block_equals_the_network_of_primitive_layers(kind, pre, cross):
    f, heads, inter, t, s = 8, 2, 16, 6, 5
    g = G()
    x = g.input("x", [t, f])
    enc = g.input("enc", [s, 6]) if cross else None
    causal = kind == "TransformerDecoder"
    out = primitive_block(g, x, f, heads, inter, pre, causal, enc)
    prim = build_module(g.specs[out], seed=1).eval()

    cfg, _ = get_layer(kind).infer("b", [TensorSpec("x", (t, f))] + ([TensorSpec("enc", (s, 6))] if cross else []),
                                   {"intermediate_dim": inter, "num_heads": heads, "normalize_first": pre})
    block = get_layer(kind).build(cfg, [TensorSpec("x", (t, f))] + ([TensorSpec("enc", (s, 6))] if cross else []))
    block.eval()
    names = [n for n, _ in block.named_children() if not n.endswith("dropout")]
    for n in names:  # the block's weights into the primitive network's layers of the same names
        prim.get_submodule(n).load_state_dict(getattr(block, n).state_dict())
    gen = torch.Generator().manual_seed(3)
    xs = [torch.randn(3, t, f, generator=gen)] + ([torch.randn(3, s, 6, generator=gen)] if cross else [])
    with torch.no_grad():
        want = prim(*xs)[0]
        got = block(*xs)
    assert torch.allclose(got, want, atol=1e-6), (got - want).abs().max()


def test_learned_position_embedding_adds_one_vector_per_position():
    cls = get_layer("PositionEmbedding")
    cfg, outs = cls.infer("p", [TensorSpec("x", (None, 4))], {"sequence_length": 10})
    m = cls.build(cfg, [TensorSpec("x", (None, 4))])
    x = torch.zeros(2, 7, 4)
    assert torch.equal(m(x)[1], m.position_embeddings[:7])
    with pytest.raises(ValueError, match="PositionEmbedding has 10 positions; the sequence from x has 12 steps"):
        cls.infer("p", [TensorSpec("x", (12, 4))], {"sequence_length": 10})


def test_sine_position_encoding_is_vaswanis_table():
    cls = get_layer("SinePositionEncoding")
    cfg, _ = cls.infer("p", [TensorSpec("x", (None, 6))], {})
    m = cls.build(cfg, [TensorSpec("x", (None, 6))])
    y = m(torch.zeros(1, 5, 6))[0]
    for p in range(5):
        for i in range(6):
            angle = p / 10000 ** (2 * (i // 2) / 6)
            assert y[p, i].item() == pytest.approx(math.sin(angle) if i % 2 == 0 else math.cos(angle), abs=1e-6)
    assert torch.allclose(m(torch.zeros(1, 3, 6), offset=2)[0], y[2:5], atol=1e-6)  # decoding from step 2


def test_multi_head_attention_returns_its_weights_as_a_second_output():
    cls = get_layer("MultiHeadAttention")
    ins = [TensorSpec("q", (4, 6)), TensorSpec("v", (5, 6))]
    cfg, outs = cls.infer("mha", ins, {"num_heads": 3, "key_dim": 2, "return_attention_scores": True})
    assert [o.shape for o in outs] == [(4, 6), (3, 4, 5)] and outs[1].name == "mha:1"
    m = cls.build(cfg, ins).eval()
    q, v = torch.randn(2, 4, 6), torch.randn(2, 5, 6)
    y, w = m(q, v)
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 4), atol=1e-6)
    m.return_scores = False
    assert torch.allclose(m(q, v), y, atol=1e-6)  # the explicit path equals SDPA


@pytest.mark.parametrize("kind,config,message", [
    ("TransformerEncoder", {"num_heads": 9}, "option 'num_heads' of TransformerEncoder is 9, more than the 8 features "
                                             "of x"),
    ("TransformerDecoder", {}, "TransformerDecoder needs an input of shape (T, F); it got (8,) from v"),
])
def test_bad_block_inputs_are_one_sentence(kind, config, message):
    spec = TensorSpec("v", (8,)) if "(8,)" in message else TensorSpec("x", (5, 8))
    with pytest.raises(ValueError) as e:
        get_layer(kind).infer("b", [spec], config)
    assert str(e.value) == message
