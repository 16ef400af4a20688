"""Text Generator, Sequence-to-Sequence Decoder and the scorers on small real slices (KJV, Ding pairs)."""
import math

import numpy as np
import pyarrow as pa
import pytest
import torch

from deepnodes.core import NodeError
from deepnodes.datasets.text import en_de_table, kjv_table
from deepnodes.dl import text as T
from deepnodes.dl.train import LossSpec, train
from deepnodes.dl.options import TrainingOptions
from deepnodes.table import ColumnError
from tests.seq.seq_nets import char_lm, seq2seq
from tests.text.helpers_text import run_node


@pytest.fixture(scope="module")
def lm():
    """A small character LSTM trained for a few seconds on 300 verses of the KJV."""
    verses = kjv_table("train").column("text").to_pylist()[:300]
    vocab = T.build_character_vocabulary(verses)
    ids, _ = T.stream_ids(vocab, verses)
    x, y = T.sliding_windows(ids, 50, 50)
    net = char_lm(vocab.size, emb=16, units=48)
    res = train(net, [torch.from_numpy(x).long()], [torch.from_numpy(y).long()],
                TrainingOptions(epochs=3, batch_size=32, learning_rate=0.01, seed=1, optimizer="adam"),
                [LossSpec("sparse_categorical_crossentropy")])
    return res.network, vocab, net


def test_text_generator_is_seeded_one_text_per_row(lm):
    net, vocab, _ = lm
    seeds = pa.table({"text": ["And God said", "In the beginning", "And"]})
    cfg = {"length": 40, "temperature": 0.5, "seed": 3}
    (a,), specs, _ = run_node("deepnodes.text.TextGenerator", cfg, [net, vocab, seeds])
    (b,), _, _ = run_node("deepnodes.text.TextGenerator", cfg, [net, vocab, seeds])
    (c,), _, _ = run_node("deepnodes.text.TextGenerator", {**cfg, "seed": 4}, [net, vocab, seeds])
    gen = a.column("generated").to_pylist()
    assert specs[0].names == ["text", "generated"] and len(gen) == 3 and all(len(g) == 40 for g in gen)
    assert gen == b.column("generated").to_pylist() != c.column("generated").to_pylist()
    (d,), _, _ = run_node("deepnodes.text.TextGenerator", {**cfg, "include_seed": True}, [net, vocab, seeds])
    assert d.column("generated")[0].as_py() == "And God said" + gen[0]


def test_text_generator_bad_input(lm):
    net, vocab, _ = lm
    (_, _, ctx) = run_node("deepnodes.text.TextGenerator", {"length": 5},
                           [net, vocab, pa.table({"text": ["Zürich ½"]})])
    assert any("are not in the dictionary" in w and "'ü'" in w for w in ctx.warnings)
    with pytest.raises(NodeError, match="row 1 is empty"):
        run_node("deepnodes.text.TextGenerator", {}, [net, vocab, pa.table({"text": ["And", ""]})])
    bigger = T.build_character_vocabulary(["".join(chr(c) for c in range(0x100, 0x200))])
    with pytest.raises(NodeError, match="predicts .* classes but the dictionary has"):
        run_node("deepnodes.text.TextGenerator", {}, [net, bigger, pa.table({"text": ["And"]})])
    from deepnodes.dl.network import Network

    opaque = Network(net.spec.with_(layers=(), output_layers=()), module=net.module)
    with pytest.raises(NodeError, match="no layer graph"):
        run_node("deepnodes.text.TextGenerator", {}, [opaque, vocab, pa.table({"text": ["And"]})])


def test_language_model_scorer_learned_something(lm):
    net, vocab, untrained = lm
    held_out = kjv_table("test").slice(0, 120)
    (scores,), specs, ctx = run_node("deepnodes.text.LanguageModelScorer", {}, [net, vocab, held_out])
    row = scores.to_pylist()[0]
    uniform = math.log2(vocab.size)
    assert row["tokens"] > 10000 and math.isclose(row["perplexity"], 2 ** row["bits_per_token"], rel_tol=1e-6)
    (base,), _, _ = run_node("deepnodes.text.LanguageModelScorer", {}, [untrained, vocab, held_out])
    assert row["bits_per_token"] < 4.0 < uniform - 1 and base.to_pylist()[0]["bits_per_token"] > uniform - 0.5
    assert "bits_per_character" in ctx.scalars
    with pytest.raises(NodeError, match="holds no text"):
        run_node("deepnodes.text.LanguageModelScorer", {}, [net, vocab, pa.table({"text": ["", None]})])


@pytest.fixture(scope="module")
def pairs():
    t = en_de_table("ding", "train", limit=300)
    en = T.build_character_vocabulary(t.column("english").to_pylist())
    de = T.build_character_vocabulary(t.column("german").to_pylist())
    return t, en, de


def test_sequence_decoder_greedy_and_beam(pairs):
    t, en, de = pairs
    net = seq2seq(en.size, de.size, emb=8, units=16)
    rows = t.slice(0, 6)
    for method in ("greedy", "beam"):
        (out, att), specs, _ = run_node("deepnodes.text.SequenceDecoder",
                                        {"method": method, "max_length": 12, "beam_width": 3, "attention_row": 2},
                                        [net, de, rows, en])
        tr = out.column("translation").to_pylist()
        assert specs[0].names[-1] == "translation" and len(tr) == 6
        # the attention of row 2: Luong's one map, a row per decoder step (its tokens and </s>, unless cut short)
        assert att.column("layer").to_pylist() == ["attention"] and att.column("row").to_pylist() == [2]
        steps = att.column("target_tokens")[0].as_py()
        assert "".join(t for t in steps if t != "</s>") == tr[2].replace("<unk>", "?") or len(steps) == 12
        assert all(len(s.replace("<unk>", "?")) <= 12 for s in tr)  # at most max_length tokens
    # ids made by Text to Index Sequence work as well as text
    (ids,), _, _ = run_node("deepnodes.text.TextToIndexSequence",
                            {"text_column": "english", "add_end": True, "pad": False}, [rows, en])
    (a, _), _, _ = run_node("deepnodes.text.SequenceDecoder", {"source_column": "english_ids", "method": "greedy",
                                                              "max_length": 12}, [net, de, ids, None])
    (b, _), _, _ = run_node("deepnodes.text.SequenceDecoder", {"method": "greedy", "max_length": 12},
                          [net, de, rows, en])
    assert a.column("translation").to_pylist() == b.column("translation").to_pylist()


def test_sequence_decoder_bad_input(pairs):
    t, en, de = pairs
    rows = t.slice(0, 4)
    fixed = seq2seq(en.size, de.size, emb=8, units=16, src_len=20)
    with pytest.raises(NodeError, match="has .* tokens but the network's input 'source' takes at most 20"):
        run_node("deepnodes.text.SequenceDecoder", {"max_length": 5}, [fixed, de, rows, en])
    no_state = seq2seq(en.size, de.size, emb=8, units=16, attention=None, decoder_state=False)
    with pytest.raises(NodeError, match="reads nothing from the encoder.*return_state"):
        run_node("deepnodes.text.SequenceDecoder", {"max_length": 5}, [no_state, de, rows, en])
    with pytest.raises(NodeError, match="connect the source dictionary"):
        run_node("deepnodes.text.SequenceDecoder", {}, [no_state, de, rows, None])
    lm = char_lm(de.size)
    with pytest.raises(NodeError, match=r"1 input\(s\) \('chars'\); an encoder-decoder needs two"):
        run_node("deepnodes.text.SequenceDecoder", {}, [lm, de, rows, en])
    with pytest.raises(ColumnError, match="option 'source_column'"):
        run_node("deepnodes.text.SequenceDecoder", {"source_column": "french"}, [no_state, de, rows, en])


def test_translation_scorer_on_real_pairs():
    t = en_de_table("ding", "test", limit=200)
    same = t.append_column("translation", t.column("german"))
    (s,), specs, ctx = run_node("deepnodes.text.TranslationScorer", {}, [same])
    row = s.to_pylist()[0]
    assert row["bleu"] > 99.9 and row["chrf"] > 99.9 and row["cer"] == 0 and row["rows"] == 200
    copy = t.append_column("translation", t.column("english"))
    (s,), _, ctx = run_node("deepnodes.text.TranslationScorer", {}, [copy])
    row = s.to_pylist()[0]
    assert row["bleu"] < 2 and 5 < row["chrf"] < 25 and row["cer"] > 0.5  # copying English is a poor translation
    assert set(ctx.scalars) == {"bleu", "chrf", "cer"}
    with pytest.raises(ColumnError, match="option 'prediction_column'"):
        run_node("deepnodes.text.TranslationScorer", {}, [t])
    with pytest.raises(NodeError, match="empty"):
        run_node("deepnodes.text.TranslationScorer", {}, [same.slice(0, 0)])
