"""Per-batch trimming of padded token columns (`deepnodes/dl/trim.py`): a batch cut to its own longest real row
trains and validates exactly as the batch padded to the whole table's longest row, for the encoder-decoder
Transformer (masked padding) and the LSTM seq2seq with Luong attention (causal decoder, padded targets left out of
the loss); networks for which the padding matters (a fixed time length, Conv1D, BatchNormalization, Bidirectional,
an unmasked encoder state, a pad id that is not the mask's) are never trimmed."""
from __future__ import annotations

import pyarrow as pa
import pytest
import torch
from hypothesis import given, settings, strategies as st

from deepnodes.dl import train as train_mod
from deepnodes.dl.build import LayerBuilder
from deepnodes.dl.convert import Binding, convert
from deepnodes.dl.graph import append_layer, input_spec
from deepnodes.dl.losses import LossFn, LossSpec, TrainingError
from deepnodes.dl.network import Network
from deepnodes.dl.options import TrainingOptions
from deepnodes.dl.train import evaluate, train
from deepnodes.dl.trim import BatchTrim

V = 13
SCE = LossSpec("sparse_categorical_crossentropy", ignore_index=0)


def _emb(s, name, mask_zero=True, dim=8):
    return append_layer([s], "Embedding", {"input_dim": V, "output_dim": dim, "mask_zero": mask_zero}, name=name)[0]


def transformer_net() -> Network:
    src, tgt = input_spec([None], "int64", name="source"), input_spec([None], "int64", name="target_in")
    s = append_layer([_emb(src, "src_emb")], "PositionEmbedding", {"sequence_length": 64}, name="src_pos")[0]
    s = append_layer([s], "TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2, "dropout": 0.0}, name="enc")[0]
    t = append_layer([_emb(tgt, "tgt_emb")], "PositionEmbedding", {"sequence_length": 64}, name="tgt_pos")[0]
    t = append_layer([t, s], "TransformerDecoder", {"intermediate_dim": 16, "num_heads": 2, "dropout": 0.0},
                     name="dec")[0]
    t = append_layer([t], "LayerNormalization", {}, name="norm")[0]
    t = append_layer([t], "Dense", {"units": V, "activation": "softmax"}, name="probs")[0]
    return Network(t, builder=LayerBuilder(seed=0))


def lstm_seq2seq_net(mask_target=False) -> Network:
    """The shape of examples/translation_en_de.json: unmasked embeddings, the encoder's state starts the decoder,
    Luong attention hides the source padding through the source ids."""
    src, tgt = input_spec([None], "int64", name="source"), input_spec([None], "int64", name="target_in")
    enc = append_layer([_emb(src, "src_emb", False)], "LSTM", {"units": 8, "return_sequences": True,
                                                              "return_state": True}, name="enc")[0]
    dec = append_layer([_emb(tgt, "tgt_emb", mask_target), enc, enc], "LSTM",
                       {"units": 8, "return_sequences": True}, name="dec", state_inputs_from=1)[0]
    att = append_layer([dec, enc, src], "Attention", {}, name="att")[0]
    h = append_layer([att, dec], "Concatenate", {}, name="cat")[0]
    h = append_layer([h], "Dense", {"units": 8, "activation": "tanh"}, name="hidden")[0]
    h = append_layer([h], "Dense", {"units": V, "activation": "softmax"}, name="probs")[0]
    return Network(h, builder=LayerBuilder(seed=0))


NETS = {"transformer": transformer_net, "lstm_seq2seq": lstm_seq2seq_net}


def _table(rows: list[tuple[list[int], list[int]]]) -> pa.Table:
    src = [s for s, _ in rows]
    tin = [[1] + t[:-1] for _, t in rows]  # teacher forcing: the target shifted right behind a start id 1
    return pa.table({"source": pa.array(src, pa.list_(pa.int64())), "target_in": pa.array(tin, pa.list_(pa.int64())),
                     "target": pa.array([t for _, t in rows], pa.list_(pa.int64()))})


def _index(net: Network, name: str) -> int:
    return [t.name for t in net.spec.inputs].index(name)


def _xy(net: Network, table: pa.Table):
    ins = net.spec.inputs
    x = [convert(table, Binding((t.name,), "tokens"), t) for t in ins]
    y = [convert(table, Binding(("target",), "tokens", role="target", option="targets"), net.spec.outputs[0])]
    return x, y


def _rows(lengths: list[tuple[int, int]], seed: int = 0) -> list[tuple[list[int], list[int]]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(2, V, (a,), generator=g).tolist(), torch.randint(2, V, (b,), generator=g).tolist())
            for a, b in lengths]


def _lengths(n: int, seed: int = 1) -> list[tuple[int, int]]:
    g = torch.Generator().manual_seed(seed)
    out = [(int(a), int(b)) for a, b in torch.randint(1, 7, (n, 2), generator=g)]
    out[n // 2] = (17, 19)  # one long row: the table pads everything to it
    return out


@pytest.fixture
def untrimmed(monkeypatch):
    def off():
        monkeypatch.setattr(train_mod.BatchTrim, "of", classmethod(lambda cls, *a, **k: cls()))
    return off


@pytest.mark.parametrize("which", sorted(NETS))
def test_training_on_trimmed_batches_equals_training_on_padded_ones(which, untrimmed, monkeypatch):
    net = NETS[which]()
    table = _table(_rows(_lengths(16)))
    val = _table(_rows(_lengths(10, seed=5), seed=3))
    x, y = _xy(net, table)
    vx, vy = _xy(net, val)
    si, ti = _index(net, "source"), _index(net, "target_in")
    assert x[si].data.shape[1] == 17 and x[ti].data.shape[1] == y[0].data.shape[1] == 19
    widths = []
    cut = BatchTrim.cut

    def spy(self, b, xb, yb):
        xb, yb = cut(self, b, xb, yb)
        widths.append((xb[si].shape[1], xb[ti].shape[1], yb[0].shape[1]))
        return xb, yb
    monkeypatch.setattr(BatchTrim, "cut", spy)
    # SGD: Adam would blow the rounding noise of gradients that are zero in exact arithmetic (an attention key
    # bias: softmax ignores a constant added to every key) up to steps of the learning rate
    opts = TrainingOptions(epochs=2, batch_size=4, seed=3, optimizer="sgd", learning_rate=0.2)
    trimmed = train(net, x, y, opts, [SCE], val_x=vx, val_y=vy)
    # the long row's batch keeps the table's width; the others are cut to their own longest row
    assert (17, 19, 19) in widths
    assert min(w[1] for w in widths) < 8
    if which == "lstm_seq2seq":
        assert all(w[0] == 17 for w in widths)  # the unmasked encoder state would change: the source stays whole
    else:
        assert min(w[0] for w in widths) < 8
    untrimmed()
    widths.clear()
    padded = train(net, x, y, opts, [SCE], val_x=vx, val_y=vy)
    assert widths == [(17, 19, 19)] * len(widths) and widths
    for a, b in zip(trimmed.history, padded.history):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4, abs=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4, abs=1e-5)
    for (k, p), q in zip(trimmed.network.module.state_dict().items(), padded.network.module.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-4), k


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), min_size=2, max_size=12), st.integers(1, 5),
       st.sampled_from(sorted(NETS)))
def test_validation_loss_is_the_same_trimmed_or_padded(lengths, batch_size, which):
    net = NETS[which]()
    net.build(seed=0)
    lengths = lengths + [(12, 14)]  # the table's longest row comes last: every earlier batch is shorter
    x, y = _xy(net, _table(_rows(lengths)))
    fns = [LossFn(SCE, False, torch.device("cpu"))]
    got = evaluate(net, x, y, fns, batch_size, torch.device("cpu"))
    trim = BatchTrim.of(net, x, y, [SCE], batch_size)
    assert trim  # something is trimmed
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_mod.BatchTrim, "of", classmethod(lambda cls, *a, **k: cls()))
        want = evaluate(net, x, y, fns, batch_size, torch.device("cpu"))
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-5, abs=1e-6)


def _groups(net: Network, table: pa.Table, losses=(SCE,)):
    x, y = _xy(net, table)
    return [(tuple(xs), tuple(ys)) for xs, ys, _ in BatchTrim.of(net, x, y, list(losses)).groups]


def test_which_tensors_are_cut_together():
    table = _table(_rows(_lengths(8)))
    net = transformer_net()
    si, ti = _index(net, "source"), _index(net, "target_in")
    assert sorted(_groups(net, table)) == sorted([((si,), ()), ((ti,), (0,))])  # source; decoder input + target
    assert _groups(lstm_seq2seq_net(), table) == [((ti,), (0,))]
    assert _groups(lstm_seq2seq_net(mask_target=True), table) == [((ti,), (0,))]
    # a causal decoder whose loss counts the padded targets: nothing may be cut
    assert _groups(lstm_seq2seq_net(), table, [LossSpec("sparse_categorical_crossentropy")]) == []


def _one_input(*layers, shape=(None,)) -> Network:
    s = input_spec(list(shape), "int64", name="ids")
    for kind, cfg in layers:
        s = append_layer([s], kind, cfg)[0]
    return Network(s, builder=LayerBuilder(seed=0))


EMB = ("Embedding", {"input_dim": V, "output_dim": 8, "mask_zero": True})
NEVER = {
    "Conv1D reads across steps": [EMB, ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "same"}),
                                  ("GlobalAveragePooling1D", {}), ("Dense", {"units": 2})],
    "BatchNormalization pools the padded steps": [EMB, ("BatchNormalization", {}), ("LSTM", {"units": 4}),
                                                  ("Dense", {"units": 2})],
    "Bidirectional reads the padding backwards": [EMB, ("Bidirectional", {"layer": "LSTM", "units": 4}),
                                                  ("Dense", {"units": 2})],
    "an unmasked LSTM's last state sees the padding": [("Embedding", {"input_dim": V, "output_dim": 8}),
                                                       ("LSTM", {"units": 4}), ("Dense", {"units": 2})],
    "an encoder block over unmasked padding": [("Embedding", {"input_dim": V, "output_dim": 8}),
                                               ("TransformerEncoder", {"intermediate_dim": 8, "num_heads": 2}),
                                               ("GlobalAveragePooling1D", {}), ("Dense", {"units": 2})],
    "a backwards GRU": [EMB, ("GRU", {"units": 4, "go_backwards": True}), ("Dense", {"units": 2})],
}


def _class_table(n=6):
    rows = [list(range(2, 2 + 1 + i % 4)) for i in range(n)]
    return pa.table({"ids": pa.array(rows, pa.list_(pa.int64())), "label": pa.array([i % 2 for i in range(n)])})


@pytest.mark.parametrize("why", sorted(NEVER))
def test_networks_that_read_the_padding_are_never_trimmed(why):
    net = _one_input(*NEVER[why])
    t = _class_table()
    x = [convert(t, Binding(("ids",), "tokens"), net.spec.inputs[0])]
    y = [convert(t, Binding(("label",), "class_index", role="target", option="targets"), net.spec.outputs[0])]
    assert not BatchTrim.of(net, x, y, [SCE]), why


def test_safe_classifiers_are_trimmed_and_a_pad_id_the_mask_does_not_know_is_not():
    net = _one_input(EMB, ("LSTM", {"units": 4}), ("Dense", {"units": 2}))  # masked: the last real state
    t = _class_table()
    y = [convert(t, Binding(("label",), "class_index", role="target", option="targets"), net.spec.outputs[0])]
    x = [convert(t, Binding(("ids",), "tokens"), net.spec.inputs[0])]
    assert BatchTrim.of(net, x, y, [SCE]).groups[0][:2] == ([0], [])
    x9 = [convert(t, Binding(("ids",), "tokens", pad_value=9), net.spec.inputs[0])]  # mask_zero hides id 0, not 9
    assert not BatchTrim.of(net, x9, y, [SCE])


def test_a_fixed_time_length_is_padded_to_it_and_never_cut():
    net = _one_input(EMB, ("Flatten", {}), ("Dense", {"units": 2}), shape=(6,))
    t = _class_table()
    x = [convert(t, Binding(("ids",), "tokens"), net.spec.inputs[0])]
    assert x[0].data.shape == (6, 6) and x[0].pad_value is None
    y = [convert(t, Binding(("label",), "class_index", role="target", option="targets"), net.spec.outputs[0])]
    assert not BatchTrim.of(net, x, y, [SCE])
    r = train(net, x, y, TrainingOptions(epochs=1, batch_size=2), [LossSpec("sparse_categorical_crossentropy")])
    assert r.epochs_done == 1


def _real(rows) -> int:
    return max((k + 1 for row in rows for k, v in enumerate(row) if v != 0), default=0)


def test_batch_lengths_follow_the_shuffled_order():
    net = transformer_net()
    x, y = _xy(net, _table(_rows(_lengths(10))))
    si, ti = _index(net, "source"), _index(net, "target_in")
    trim = BatchTrim.of(net, x, y, [SCE])
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    assert trim.epoch(perm, 3) is perm
    for b in range(4):
        idx = perm[b * 3:(b + 1) * 3]
        xb, yb = trim.cut(b, [t.data[idx] for t in x], [y[0].data[idx]])
        assert xb[si].shape[1] == max(1, _real(x[si].data[idx].tolist()))
        both = max(_real(x[ti].data[idx].tolist()), _real(y[0].data[idx].tolist()))
        assert xb[ti].shape[1] == yb[0].shape[1] == max(1, both)


def test_a_position_table_shorter_than_the_longest_row_fails_before_training():
    src, tgt = input_spec([None], "int64", name="source"), input_spec([None], "int64", name="target_in")
    t = append_layer([_emb(tgt, "tgt_emb")], "PositionEmbedding", {"sequence_length": 10}, name="tgt_pos")[0]
    s = append_layer([_emb(src, "src_emb")], "TransformerEncoder", {"intermediate_dim": 8, "num_heads": 2})[0]
    t = append_layer([t, s], "TransformerDecoder", {"intermediate_dim": 8, "num_heads": 2})[0]
    t = append_layer([t], "Dense", {"units": V, "activation": "softmax"}, name="probs")[0]
    net = Network(t, builder=LayerBuilder(seed=0))
    x, y = _xy(net, _table(_rows(_lengths(8))))  # one row of 19 target tokens
    with pytest.raises(TrainingError, match=r"layer 'tgt_pos' \(PositionEmbedding\) has 10 positions, but the "
                                            r"longest row for network input 'target_in' has 19 tokens"):
        train(net, x, y, TrainingOptions(epochs=1, batch_size=4), [SCE])
