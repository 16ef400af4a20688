"""Decoding Transformer networks step by step: the key/value cache gives what re-running the whole sequence gives
(decoder-only and encoder-decoder, padded sources), greedy and beam search run on it, nucleus sampling."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from deepnodes.dl.build import LayerBuilder
from deepnodes.dl.decode import DecodeError, GraphRunner, decode_batch, pick
from deepnodes.dl.graph import append_layer, collect_outputs, input_spec
from deepnodes.dl.network import Network

V, F = 13, 8


def _lm(position="PositionEmbedding", pre=False):
    s = input_spec([None], "int64", name="ids")
    s, _ = append_layer([s], "Embedding", {"input_dim": V, "output_dim": F}, name="emb")
    s, _ = append_layer([s], position, {"sequence_length": 32} if position == "PositionEmbedding" else {}, name="pos")
    for i in range(2):
        s, _ = append_layer([s], "TransformerDecoder", {"intermediate_dim": 16, "num_heads": 2,
                                                        "normalize_first": pre}, name=f"dec_{i}")
    s, _ = append_layer([s], "Dense", {"units": V}, name="logits")
    return Network(s, builder=LayerBuilder(seed=0))


def _seq2seq():
    src = input_spec([None], "int64", name="src")
    src, _ = append_layer([src], "Embedding", {"input_dim": V, "output_dim": F, "mask_zero": True}, name="src_emb")
    src, _ = append_layer([src], "SinePositionEncoding", {}, name="src_pos")
    enc, _ = append_layer([src], "TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2}, name="enc")
    tgt = input_spec([None], "int64", name="tgt")
    tgt, _ = append_layer([tgt], "Embedding", {"input_dim": V, "output_dim": F, "mask_zero": True}, name="tgt_emb")
    tgt, _ = append_layer([tgt], "SinePositionEncoding", {}, name="tgt_pos")
    dec, _ = append_layer([tgt, enc], "TransformerDecoder", {"intermediate_dim": 16, "num_heads": 2}, name="dec")
    att, _ = append_layer([dec, enc], "MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, name="cross")
    out, _ = append_layer([att], "Dense", {"units": V}, name="logits")
    return Network(out, builder=LayerBuilder(seed=0))


LMS = {"learned": _lm(), "sine-prenorm": _lm("SinePositionEncoding", True)}


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, V - 1), min_size=2, max_size=12), st.data(), st.sampled_from(sorted(LMS)))
def test_cached_decoding_equals_full_recomputation(tokens, data, which):
    net = LMS[which]
    cut = data.draw(st.integers(1, len(tokens) - 1))  # a prefix at once, then one token at a time
    runner = GraphRunner(net)
    x = torch.tensor([tokens])
    with torch.no_grad():
        full = net.inference_module()(x)[0][0]
    state = runner.start({})
    y, state = runner.run(x[:, :cut], state)
    steps = [y[0]]
    for t in range(cut, len(tokens)):
        y, state = runner.run(x[:, t:t + 1], state)
        steps.append(y[0])
    assert torch.allclose(torch.cat(steps), full, atol=1e-5)


def test_encoder_decoder_cached_steps_equal_full_runs_on_padded_sources():
    net = _seq2seq()
    module = net.inference_module()
    src = torch.tensor([[4, 5, 6, 0, 0], [7, 8, 9, 10, 11]])
    tgt = torch.tensor([[1, 5, 9, 3], [1, 4, 4, 12]])
    runner = GraphRunner(net, "tgt")
    state = runner.start({"src": src})
    got = []
    for t in range(tgt.shape[1]):
        y, state = runner.run(tgt[:, t:t + 1], state)
        got.append(y)
    order = [t.name for t in net.spec.inputs]

    def whole(s_, t_):
        return module(*[{"src": s_, "tgt": t_}[n] for n in order])[0]

    with torch.no_grad():
        full = whole(src, tgt)
        alone = whole(src[:1, :3], tgt[:1])  # the padded source gives what the unpadded one gives
    assert torch.allclose(torch.cat(got, 1), full, atol=1e-5)
    assert torch.allclose(full[:1], alone, atol=1e-5)


def test_greedy_and_beam_search_run_on_the_cache():
    net = _seq2seq()
    runner = GraphRunner(net, "tgt")
    src = torch.tensor([[4, 5, 6, 0], [7, 8, 9, 10]])
    greedy = decode_batch(runner, {"src": src}, "greedy", max_length=6)
    beam1 = decode_batch(runner, {"src": src}, "beam", width=1, max_length=6, length_penalty=0.0)
    beam4 = decode_batch(runner, {"src": src}, "beam", width=4, max_length=6)
    assert greedy == beam1  # a beam of one is greedy
    assert len(beam4) == 2 and all(0 not in s for s in beam4)


def test_a_non_causal_stepped_layer_is_refused_in_one_sentence():
    s = input_spec([None], "int64", name="ids")
    s, _ = append_layer([s], "Embedding", {"input_dim": V, "output_dim": F}, name="emb")
    s, _ = append_layer([s], "TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2}, name="enc")
    with pytest.raises(DecodeError, match="layer 'enc' \\(TransformerEncoder\\) mixes time steps"):
        GraphRunner(Network(s, builder=LayerBuilder(seed=0)))
    s2 = input_spec([None], "int64", name="ids")
    s2, _ = append_layer([s2], "Embedding", {"input_dim": V, "output_dim": F}, name="emb")
    s2, _ = append_layer([s2, s2], "MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, name="att")
    with pytest.raises(DecodeError, match="self-attention layer 'att' is not causal"):
        GraphRunner(Network(s2, builder=LayerBuilder(seed=0)))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=4, max_size=10), st.floats(0.05, 0.95), st.integers(0, 1000))
def test_nucleus_sampling_draws_only_from_the_top_p_mass(values, top_p, seed):
    logp = torch.log_softmax(torch.tensor([values]), -1)
    probs = logp.exp()[0]
    order = probs.argsort(descending=True)
    before = probs[order].cumsum(0) - probs[order]
    allowed = set(order[before < top_p].tolist())
    gen = torch.Generator().manual_seed(seed)
    for _ in range(5):
        assert int(pick(logp, 1.0, None, gen, (), top_p)[0]) in allowed
