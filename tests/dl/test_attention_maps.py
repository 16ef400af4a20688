"""The attention view's maps are the network's own attention weights: equal to what a MultiHeadAttention or a Luong
/ Bahdanau layer returns as its scores output, rows summing to 1 and padded source steps at 0 (random sentences,
hypothesis), one map per layer and head for Transformer decoder blocks; the PNG's cells are those numbers'
colours; a network without decoder-to-encoder attention has no maps."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from deepnodes.dl import graph
from deepnodes.dl.attention_maps import attention_maps, from_table, is_attention_table, to_table
from deepnodes.dl.attention_png import _font, colours, layout, render, scaled
from deepnodes.dl.decode import GraphRunner
from tests.seq.seq_nets import _net, add, seq2seq

V, F = 11, 8


def _transformer(cross_scores: bool):
    """Source with padding masks -> encoder block; decoder block with cross-attention, then a MultiHeadAttention
    on the encoder whose scores are a second output of the network."""
    s = graph.input_spec([None], "int64", "src")
    t = graph.input_spec([None], "int64", "tgt")
    se = add([s], "Embedding", {"input_dim": V, "output_dim": F, "mask_zero": True}, "src_emb")
    se = add([se], "SinePositionEncoding", {}, "src_pos")
    enc = add([se], "TransformerEncoder", {"intermediate_dim": 16, "num_heads": 2}, "enc")
    te = add([t], "Embedding", {"input_dim": V, "output_dim": F, "mask_zero": True}, "tgt_emb")
    te = add([te], "SinePositionEncoding", {}, "tgt_pos")
    dec = add([te, enc], "TransformerDecoder", {"intermediate_dim": 16, "num_heads": 2}, "dec")
    att = add([dec, enc], "MultiHeadAttention", {"num_heads": 2, "key_dim": 4,
                                                 "return_attention_scores": cross_scores}, "cross")
    out = add([att], "Dense", {"units": V, "activation": "softmax"}, "probs")
    if cross_scores:
        out = graph.collect_outputs([out, att], [None, "cross:1"])[0]
    return _net(out)


NETS = {"scores": _transformer(True), "plain": _transformer(False)}


def _outputs(net, src, tgt):
    order = [t.name for t in net.spec.inputs]
    with torch.no_grad():
        return net.inference_module()(*[{"src": src, "tgt": tgt, "source": src, "target_in": tgt}[n] for n in order])


sentences = st.tuples(st.lists(st.integers(3, V - 1), min_size=1, max_size=7), st.integers(0, 4),
                      st.lists(st.integers(3, V - 1), min_size=0, max_size=6))


@settings(max_examples=10, deadline=None)
@given(sentences)
def test_transformer_maps_are_the_networks_weights_rows_sum_to_one_padding_is_zero(case):
    words, pad, target = case
    src = np.array(words + [0] * pad)
    for which, net in NETS.items():
        runner = RUNNERS[which]
        maps = attention_maps(runner, src, target)
        assert [(m.layer, m.head) for m in maps] == [("dec", 0), ("dec", 1), ("cross", 0), ("cross", 1)]
        for m in maps:
            assert m.weights.shape == (len(target) + 1, len(src))
            assert np.allclose(m.weights.sum(-1), 1, atol=1e-5)
            assert (m.weights[:, len(words):] == 0).all()  # padded source steps get nothing
        if which == "scores":  # the network itself returns the cross layer's weights: the maps are those
            got = _outputs(net, torch.tensor(src[None]), torch.tensor([[1, *target]]))[1][0].numpy()
            assert np.allclose(np.stack([maps[2].weights, maps[3].weights]), got, atol=1e-6)
    # the map does not depend on whether the layer returns its scores itself (same weights: same seed)
    scored = attention_maps(RUNNERS["scores"], src, target)
    assert all(np.allclose(a.weights, b.weights, atol=1e-6) for a, b in zip(scored, maps))


def _luong(kind: str, scores: bool):
    """An encoder-decoder LSTM with Luong (dot) or Bahdanau (additive) attention masked on source padding; with
    `scores`, the attention layer's weights are the network's second output."""
    s = graph.input_spec([None], "int64", "source")
    t = graph.input_spec([None], "int64", "target_in")
    enc = add([add([s], "Embedding", {"input_dim": V, "output_dim": F})], "LSTM",
              {"units": F, "return_sequences": True}, "encoder")
    dec = add([add([t], "Embedding", {"input_dim": V, "output_dim": F})], "LSTM",
              {"units": F, "return_sequences": True}, "decoder")
    att = add([dec, enc, s], kind, {"return_attention_scores": scores}, "attention")
    out = add([att], "Dense", {"units": V, "activation": "softmax"}, "probs")
    return _net(graph.collect_outputs([out, att], [None, "attention:1"])[0] if scores else out)


LUONG = {k: (GraphRunner(_luong(k, False), "target_in"), _luong(k, True)) for k in ("Attention", "AdditiveAttention")}
RUNNERS = {k: GraphRunner(n, "tgt") for k, n in NETS.items()}


@settings(max_examples=10, deadline=None)
@given(sentences, st.sampled_from(sorted(LUONG)))
def test_luong_and_bahdanau_give_one_map_equal_to_the_layers_scores(case, kind):
    words, pad, target = case
    src = np.array(words + [0] * pad)
    runner, with_scores = LUONG[kind]
    maps = attention_maps(runner, src, target)
    assert [(m.layer, m.head) for m in maps] == [("attention", -1)]
    w = maps[0].weights
    assert np.allclose(w.sum(-1), 1, atol=1e-5) and (w[:, len(words):] == 0).all()
    got = _outputs(with_scores, torch.tensor(src[None]), torch.tensor([[1, *target]]))[1][0].numpy()
    assert np.allclose(w, got, atol=1e-6)  # the same weights (same seed) as the layer's own scores output
    assert np.allclose(attention_maps(GraphRunner(with_scores, "target_in"), src, target)[0].weights, got, atol=1e-6)


def test_without_cross_attention_there_are_no_maps():
    net = seq2seq(V, V, attention=None)
    assert attention_maps(GraphRunner(net, "target_in"), np.array([4, 5]), [3]) == []


def test_the_table_round_trips_and_the_png_cells_are_the_weights_colours():
    rng = np.random.default_rng(0)
    runner = RUNNERS["plain"]
    src, target = np.array([4, 5, 6, 7, 0]), [3, 8, 9]
    maps = attention_maps(runner, src, target)
    table = to_table(maps, ["a", "b", "c", "ü", "<pad>"], ["x", "y", "z", "</s>"], 2)
    assert is_attention_table(table) and table.num_rows == 4
    view = from_table(table)
    assert view["row"] == 2 and [m["head"] for m in view["maps"]] == [0, 1, 0, 1]
    assert np.allclose(view["maps"][3]["weights"], maps[3].weights, atol=1e-4)
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(render(view))).convert("RGB"))
    lay = layout(view, _font())
    assert img.shape[:2] == lay["size"][::-1]
    for m, (x0, y0) in zip(view["maps"], lay["origins"]):
        want = colours(scaled(m["weights"]))  # 0 .. the map's largest weight
        assert scaled(m["weights"]).max() == pytest.approx(1)
        for i, j in zip(rng.integers(0, 4, 6), rng.integers(0, 5, 6)):
            c = lay["cell"]
            px = img[y0 + lay["top"] + i * c + c // 2, x0 + lay["left"] + j * c + c // 2]
            assert (px == want[i, j]).all()
    with pytest.raises(ValueError, match="no maps"):
        render(from_table(to_table([], ["a"], ["b"], 0)))


@pytest.mark.slow  # a whole workflow through the CLI, a few seconds
def test_run_report_links_the_attention_png(tmp_path):
    from deepnodes.cli import main
    from deepnodes.core import Workflow
    from tests.text.test_transformer_translation_example import EXAMPLES, _small

    import json

    wf = _small(Workflow.load(EXAMPLES / "translation_transformer_en_de.json"))
    wf.set_option("learner", "epochs", 1)
    wf.set_option("decoder_node", "attention_row", 1)
    wf.set_option("greedy_node", "attention_row", None)
    wf.save(tmp_path / "wf.json")
    assert main(["run", str(tmp_path / "wf.json"), "--report", str(tmp_path / "report.json"), "--quiet"]) == 0
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["nodes"]["decoder_node"]["images"] == {"attention": "report.decoder_node.attention.png"}
    assert "images" not in rep["nodes"]["greedy_node"]  # no row chosen: no maps, no picture
    from PIL import Image

    with Image.open(tmp_path / "report.decoder_node.attention.png") as im:
        assert im.size[0] > 200 and im.size[1] > 200  # 2 layers x 4 heads of panels
