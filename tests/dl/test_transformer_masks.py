"""Padding masks for real: a padded batch gives, at its real steps, what each sequence gives alone (attention, the
Transformer blocks, LSTM/GRU/SimpleRNN, pooling); causal attention never looks ahead; the loss skips masked steps."""
from __future__ import annotations

import torch
from hypothesis import given, settings, strategies as st

from deepnodes.dl.build import build_module
from deepnodes.dl.graph import append_layer, input_spec
from deepnodes.dl.masks import forward_masked

F = 8


def _net(kind, config, mask_zero=True, pool=None):
    s = input_spec([None], "int64", name="ids")
    s, _ = append_layer([s], "Embedding", {"input_dim": 20, "output_dim": F, "mask_zero": mask_zero}, name="emb")
    ups = [s, s] if kind == "MultiHeadAttention" else [s]
    s, _ = append_layer(ups, kind, config, name="layer")
    if pool:
        s, _ = append_layer([s], pool, {}, name="pool")
    return build_module(s, seed=0).eval()


LAYERS = [("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}),
          ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "use_causal_mask": True}),
          ("TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2}),
          ("TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2, "normalize_first": True}),
          ("TransformerDecoder", {"intermediate_dim": 16, "num_heads": 2}),
          ("LSTM", {"units": 5, "return_sequences": True}),
          ("GRU", {"units": 5, "return_sequences": True}),
          ("SimpleRNN", {"units": 5, "return_sequences": True}),
          ("GRU", {"units": 5, "return_sequences": True, "go_backwards": True})]
NETS = {i: _net(k, c) for i, (k, c) in enumerate(LAYERS)}
LAST = {k: _net(k, {"units": 5}) for k in ("LSTM", "GRU")}
POOLS = {p: _net("TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2}, pool=p)
         for p in ("GlobalAveragePooling1D", "GlobalMaxPooling1D")}

seqs = st.lists(st.lists(st.integers(1, 19), min_size=1, max_size=6), min_size=1, max_size=4)


def _pad(batch, left):
    t = max(len(s) for s in batch) + 1  # at least one padded step somewhere
    rows = [[0] * (t - len(s)) + s if left else s + [0] * (t - len(s)) for s in batch]
    return torch.tensor(rows)


@settings(max_examples=25, deadline=None)
@given(seqs, st.booleans(), st.sampled_from(sorted(NETS)))
def test_padded_batch_equals_each_sequence_alone(batch, left, which):
    kind = LAYERS[which][0]
    net = NETS[which]
    tail = left != bool(LAYERS[which][1].get("go_backwards"))  # read backwards, the outputs come reversed
    x = _pad(batch, left)
    with torch.no_grad():
        y = net(x)[0]
        for b, s in enumerate(batch):
            alone = net(torch.tensor([s]))[0][0]
            real = y[b, x.shape[1] - len(s):] if tail else y[b, :len(s)]
            assert torch.allclose(real, alone, atol=1e-5), (kind, (real - alone).abs().max())


@settings(max_examples=15, deadline=None)
@given(seqs, st.sampled_from(["LSTM", "GRU"]))
def test_last_state_of_a_padded_sequence_is_its_last_real_step(batch, kind):
    x = _pad(batch, left=False)
    with torch.no_grad():
        y = LAST[kind](x)[0]
        for b, s in enumerate(batch):
            assert torch.allclose(y[b], LAST[kind](torch.tensor([s]))[0][0], atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(seqs, st.sampled_from(sorted(POOLS)))
def test_global_pooling_skips_padded_steps(batch, pool):
    x = _pad(batch, left=False)
    with torch.no_grad():
        y = POOLS[pool](x)[0]
        for b, s in enumerate(batch):
            assert torch.allclose(y[b], POOLS[pool](torch.tensor([s]))[0][0], atol=1e-5)


CAUSAL = {"mha": _net("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "use_causal_mask": True}, False),
          "decoder": _net("TransformerDecoder", {"intermediate_dim": 16, "num_heads": 2}, False),
          "prenorm": _net("TransformerDecoder", {"intermediate_dim": 16, "num_heads": 2, "normalize_first": True},
                          False)}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 19), min_size=2, max_size=9), st.data(), st.sampled_from(sorted(CAUSAL)))
def test_causal_attention_never_looks_ahead(tokens, data, which):
    j = data.draw(st.integers(1, len(tokens) - 1))
    other = data.draw(st.integers(0, 19).filter(lambda v: v != tokens[j]))
    changed = list(tokens)
    changed[j] = other
    net = CAUSAL[which]
    with torch.no_grad():
        a, b = net(torch.tensor([tokens]))[0][0], net(torch.tensor([changed]))[0][0]
    assert torch.allclose(a[:j], b[:j], atol=1e-6)
    assert not torch.allclose(a[j], b[j], atol=1e-6)


def test_the_network_output_carries_its_mask():
    net = _net("TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2})
    x = torch.tensor([[3, 4, 0, 0], [5, 0, 0, 0]])
    outs, masks = forward_masked(net, x)
    assert torch.equal(masks[0], x != 0) and torch.equal(outs[0], net(x)[0])
    plain = _net("TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2}, mask_zero=False)
    assert forward_masked(plain, x)[1] == (None,)


def test_the_step_by_step_path_equals_the_fused_kernel_and_recurrent_dropout_acts_only_in_training():
    from deepnodes.dl.layers import get_layer
    from deepnodes.dl.spec import TensorSpec

    x = torch.randn(3, 6, 4, generator=torch.Generator().manual_seed(0))
    for kind in ("LSTM", "GRU", "SimpleRNN"):
        ins = [TensorSpec("x", (6, 4))]
        cfg, _ = get_layer(kind).infer("r", ins, {"units": 5, "return_sequences": True, "recurrent_dropout": 0.5})
        m = get_layer(kind).build(cfg, ins).eval()
        with torch.no_grad():
            fused, _ = m.rnn(x)
            stepped, _ = m._scan(x, None, None)
            assert torch.allclose(fused, stepped, atol=1e-6), kind
            assert torch.equal(m(x), fused)  # eval: no recurrent dropout, the fused kernel
            m.train()
            torch.manual_seed(1)
            assert not torch.allclose(m(x), fused, atol=1e-3), kind


def test_masked_positions_do_not_count_in_the_loss_or_the_training():
    from deepnodes.dl.build import LayerBuilder
    from deepnodes.dl.losses import LossSpec
    from deepnodes.dl.network import Network
    from deepnodes.dl.options import TrainingOptions
    from deepnodes.dl.train import train

    s = input_spec([None], "int64", name="ids")
    s, _ = append_layer([s], "Embedding", {"input_dim": 12, "output_dim": F, "mask_zero": True}, name="emb")
    s, _ = append_layer([s], "TransformerDecoder", {"intermediate_dim": 16, "num_heads": 2}, name="dec")
    s, _ = append_layer([s], "Dense", {"units": 12}, name="logits")
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(2, 7, (16,), generator=g)
    x = torch.randint(1, 12, (16, 7), generator=g)
    real = torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)
    x = x * real
    y = torch.roll(x, -1, 1)
    runs = []
    for junk in (0, 5):  # what stands in the padded targets must not matter
        yy = torch.where(real, y, torch.full_like(y, junk))
        net = Network(s, builder=LayerBuilder(seed=0))
        r = train(net, [x], [yy], TrainingOptions(epochs=2, batch_size=8, seed=0),
                  [LossSpec("sparse_categorical_crossentropy", from_logits=True)], device="cpu")
        runs.append(r)
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]
    a, b = runs[0].network.module.state_dict(), runs[1].network.module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_masked_attention_exports_to_onnx_and_a_masked_recurrent_layer_says_it_does_not_yet(tmp_path):
    import pytest

    from deepnodes.dl.build import LayerBuilder
    from deepnodes.dl.formats.onnx import ExportError, export_onnx
    from deepnodes.dl.network import Network

    def net(kind, cfg):
        s = input_spec([None], "int64", name="ids")
        s, _ = append_layer([s], "Embedding", {"input_dim": 10, "output_dim": F, "mask_zero": True}, name="emb")
        s, _ = append_layer([s], kind, cfg, name="layer")
        return Network(s, builder=LayerBuilder(seed=0))

    export_onnx(net("TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2}), tmp_path / "enc.onnx")
    with pytest.raises(ExportError, match="a recurrent layer that reads a padding mask .* does not export to ONNX"):
        export_onnx(net("LSTM", {"units": 4, "return_sequences": True}), tmp_path / "lstm.onnx")
