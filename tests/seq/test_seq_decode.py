import math

import numpy as np
import pytest
import torch

from deepnodes.dl.decode import DecodeError, GraphRunner, beam_search, decode_batch, greedy, sample, stream_log_loss
from deepnodes.dl.text import END, START
from tests.seq.seq_nets import char_lm, seq2seq


def test_lm_runner_carries_state_like_one_full_pass():
    lm = char_lm(12)
    x = torch.randint(4, 12, (3, 11))
    full = lm.forward(x)[0]
    r = GraphRunner(lm)
    st = r.start({})
    parts = []
    for a, b in ((0, 4), (4, 5), (5, 11)):  # a prefix, one step, the rest
        y, st = r.run(x[:, a:b], st)
        parts.append(y)
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-6)


@pytest.mark.parametrize("attention", [None, "Attention", "AdditiveAttention"])
def test_seq2seq_steps_match_teacher_forcing(attention):
    net = seq2seq(20, 30, attention=attention)
    r = GraphRunner(net)
    assert r.step_input == "target_in" and r.reads_static
    src, tgt = torch.randint(1, 20, (4, 7)), torch.randint(1, 30, (4, 6))
    src[0, 5:] = 0  # padding in the source
    names = [t.name for t in net.spec.inputs]
    full = net.forward(*[src if n == "source" else tgt for n in names])[0]
    st = r.start({"source": src})
    steps = []
    for i in range(tgt.shape[1]):
        lp, st = r.step(tgt[:, i], st)
        steps.append(lp.exp())
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-5)


def _toy():
    """state = last token. From <s>: A .5, B .4; after A everything is unlikely to end well; after B, </s> .99."""
    V = 6
    A, B = 3, 4
    P = torch.full((V, V), 1e-3)
    P[START, A], P[START, B] = 0.5, 0.4
    P[A, END], P[A, A], P[A, B], P[A, 5] = 0.3, 0.3, 0.2, 0.2
    P[B, END] = 0.99
    P[5, END] = 0.99
    P[END, END] = 1.0
    logP = torch.log(P / P.sum(1, keepdim=True))

    def step(tok, state):
        return logP[tok].clone(), tok

    def reorder(state, idx):
        return state.index_select(0, idx)

    return step, reorder, torch.zeros(2, dtype=torch.long)


def test_beam_search_beats_greedy_on_a_garden_path():
    step, reorder, state = _toy()
    assert greedy(step, state, 2, 10) == [[3], [3]]              # A, then </s>: p = .5 * .3
    assert beam_search(step, reorder, state, 2, 2, 10) == [[4], [4]]  # B, then </s>: p = .4 * .99
    assert beam_search(step, reorder, state, 2, 1, 10) == greedy(step, state, 2, 10)


def test_length_penalty_and_max_length():
    step, reorder, state = _toy()
    out = beam_search(step, reorder, state, 1, 3, 1)
    assert len(out[0]) <= 1
    assert beam_search(step, reorder, state, 1, 4, 10, length_penalty=0.0) == [[4]]


def test_sampling_is_seeded_and_temperature_zero_is_greedy():
    lm = char_lm(12)
    r = GraphRunner(lm)
    prefixes = [np.array([5, 6, 7]), np.array([8]), np.array([5, 6, 9])]
    a = sample(r, prefixes, 20, temperature=1.0, top_k=5, seed=1)
    b = sample(r, prefixes, 20, temperature=1.0, top_k=5, seed=1)
    c = sample(r, prefixes, 20, temperature=1.0, top_k=5, seed=2)
    assert all((x == y).all() for x, y in zip(a, b)) and any((x != y).any() for x, y in zip(a, c))
    assert all(len(x) == 20 and x.min() >= 3 for x in a)  # no <pad>, <s>, </s>
    g = sample(r, prefixes, 8, temperature=0.0, seed=5)
    k1 = sample(r, prefixes, 8, temperature=1.0, top_k=1, seed=9)
    assert all((x == y).all() for x, y in zip(g, k1))
    # state carried: the greedy continuation equals re-running the whole prefix each step
    seq = list(prefixes[0])
    for _ in range(8):
        y = lm.forward(torch.tensor([seq]))[0][0, -1]
        y[:3] = -1
        seq.append(int(y.argmax()))
    assert seq[3:] == g[0].tolist()


def test_stream_log_loss_matches_a_full_pass():
    lm = char_lm(12, return_sequences=True)
    ids = np.random.default_rng(0).integers(4, 12, 41)
    nll, n = stream_log_loss(GraphRunner(lm), ids, chunk=7, streams=1)
    p = lm.forward(torch.tensor(ids[None, :-1]))[0][0]
    want = -torch.log(p[torch.arange(40), torch.tensor(ids[1:])]).mean().item()
    assert n == 40 and math.isclose(nll, want, rel_tol=1e-5)


def test_networks_that_cannot_be_stepped():
    with pytest.raises(DecodeError, match="mixes time steps|cannot run step by step|backwards"):
        GraphRunner(seq2seq(20, 30, attention=None, bidirectional_decoder=True), "target_in")
    from deepnodes.dl.network import Network
    from deepnodes.dl.spec import NetworkSpec, TensorSpec

    opaque = Network(NetworkSpec((TensorSpec("x", (None,), "int64"),), (TensorSpec("y", (None, 5)),)),
                     module=torch.nn.Identity())
    with pytest.raises(DecodeError, match="no layer graph"):
        GraphRunner(opaque)
    with pytest.raises(DecodeError, match="no input 'nope'"):
        GraphRunner(char_lm(12), "nope")
    with pytest.raises(DecodeError, match="seed text is empty"):
        sample(GraphRunner(char_lm(12)), [np.array([], dtype=np.int64)], 5)


def test_decode_batch_runs_both_methods():
    net = seq2seq(20, 30)
    r = GraphRunner(net)
    src = torch.randint(1, 20, (3, 7))
    for method in ("greedy", "beam"):
        out = decode_batch(r, {"source": src}, method, width=3, max_length=5)
        assert len(out) == 3 and all(len(o) <= 5 and END not in o for o in out)
    with pytest.raises(DecodeError, match="option 'method'"):
        decode_batch(r, {"source": src}, "sampling")
