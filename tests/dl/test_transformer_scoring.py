"""Scoring a fixed-window (Transformer) language model with sliding windows: each token is scored exactly once,
from the context the Language Model Scorer's `stride` promises (at least window - stride tokens after the first
window), checked against one full forward pass per token."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from deepnodes.dl.build import LayerBuilder
from deepnodes.dl.decode import DecodeError, GraphRunner, stream_log_loss
from deepnodes.dl.graph import append_layer, input_spec
from deepnodes.dl.network import Network

V = 11


def _lm(window: int) -> Network:
    s = input_spec([window], "int64", name="ids")
    s, _ = append_layer([s], "Embedding", {"input_dim": V, "output_dim": 8}, name="emb")
    s, _ = append_layer([s], "PositionEmbedding", {"sequence_length": window}, name="pos")
    s, _ = append_layer([s], "TransformerDecoder", {"intermediate_dim": 16, "num_heads": 2, "dropout": 0.0},
                        name="dec")
    s, _ = append_layer([s], "Dense", {"units": V, "activation": "softmax"}, name="probs")
    return Network(s, builder=LayerBuilder(seed=0))


LMS = {w: _lm(w) for w in (4, 7)}


def _context_start(t: int, window: int, stride: int, per: int) -> int:
    """Where the context of the prediction at position t starts: the first window scores 0..window-1 from 0;
    then windows ending at window + k * stride (the last one at the end of the piece) score their last ids."""
    if t < window:
        return 0
    k = math.ceil((t + 1 - window) / stride)
    return min(per, window + k * stride) - window


@settings(max_examples=25, deadline=None)
@given(window=st.sampled_from(sorted(LMS)), data=st.data(), n=st.integers(2, 40), streams=st.integers(1, 3))
def test_sliding_windows_score_every_token_once_from_the_promised_context(window, data, n, streams):
    stride = data.draw(st.integers(0, window), label="stride")
    ids = np.random.default_rng(n * 7 + window).integers(1, V, n)
    net = LMS[window]
    nll, count = stream_log_loss(GraphRunner(net), ids, chunk=5, streams=streams, stride=stride)
    s = stride or window // 2
    k = max(1, min(streams, (n - 1) // 5 or 1))
    per = (n - 1) // k
    x, y = ids[:k * per].reshape(k, per), ids[1:k * per + 1].reshape(k, per)
    want = 0.0
    mod = net.inference_module()
    with torch.no_grad():
        for r in range(k):
            for t in range(per):
                c = _context_start(t, window, s, per)
                assert t - c + 1 <= window and (t < window or t - c >= window - s)
                p = mod(torch.tensor(x[r:r + 1, c:t + 1]))[0][0, -1]
                want -= math.log(float(p[y[r, t]]))
    assert count == k * per
    assert math.isclose(nll, want / count, rel_tol=1e-5, abs_tol=1e-6)


def test_a_stride_longer_than_the_window_is_refused():
    with pytest.raises(DecodeError, match=r"the stride \(8\) is longer than the network's window of 7 tokens"):
        stream_log_loss(GraphRunner(LMS[7]), np.arange(1, 40) % V, stride=8)
