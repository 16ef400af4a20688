import numpy as np
import pyarrow as pa
import pytest

from deepnodes.core import NodeError
from deepnodes.datasets.text import kjv_table
from deepnodes.table import ColumnError
from deepnodes.table.arrow import spec_of, to_numpy
from tests.text.helpers_text import run_node


@pytest.fixture(scope="module")
def verses():
    return kjv_table("train").slice(0, 300)


def test_text_reader_lines_and_paragraphs(tmp_path):
    (tmp_path / "a.txt").write_text("First line.\nSecond line\nof para two.\n\n\nThird para.\n")
    (outs, specs, _) = run_node("deepnodes.text.TextReader", {"path": str(tmp_path / "a.txt"), "split": "line"}, [])
    assert outs[0].column("text").to_pylist() == ["First line.", "Second line", "of para two.", "Third para."]
    assert spec_of(outs[0]) == specs[0]
    (outs, _, _) = run_node("deepnodes.text.TextReader", {"path": str(tmp_path), "split": "paragraph"}, [])
    assert outs[0].column("text").to_pylist() == ["First line. Second line of para two.", "Third para."]
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ColumnError, match="empty"):
        run_node("deepnodes.text.TextReader", {"path": str(tmp_path / "empty.txt")}, [])
    with pytest.raises(ColumnError, match="option 'path'"):
        run_node("deepnodes.text.TextReader", {"path": str(tmp_path / "nope*.txt")}, [])


def test_dictionary_windows_and_back(verses):
    (vocab, tokens), specs, _ = run_node("deepnodes.text.CharacterDictionary", {"min_count": 2}, [verses])
    assert tokens.num_rows == vocab.size and spec_of(tokens) == specs[1]
    (win,), specs, _ = run_node("deepnodes.text.SlidingWindows", {"length": 40, "step": 40}, [verses, vocab])
    assert spec_of(win) == specs[0]
    x, y = to_numpy(win.column("window")), np.array(win.column("target").to_pylist())
    assert x.shape[1] == 40 and y.shape == x.shape and (x[:, 1:] == y[:, :-1]).all() and (x[1:, 0] == y[:-1, -1]).all()
    assert vocab.decode(x[0]) == verses.column("text")[0].as_py()[:40]
    t = pa.table({"ids": win.column("window")})
    (back,), _, _ = run_node("deepnodes.text.IndexSequenceToText", {}, [t, vocab])
    assert back.column("text")[0].as_py() == vocab.decode(x[0])


def test_unknown_characters_are_mapped_and_counted(verses):
    (vocab, _), _, _ = run_node("deepnodes.text.CharacterDictionary", {}, [verses])
    t = pa.table({"text": ["Grüße aus Köln", "plain"]})
    (out,), specs, ctx = run_node("deepnodes.text.TextToIndexSequence", {"add_end": True}, [t, vocab])
    ids = to_numpy(out.column("text_ids"))
    assert ids.shape == (2, 15) and (ids == 3).sum() == 3
    assert specs[0].column("text_ids").kind == "tensor"
    assert len(ctx.warnings) == 1 and "3 of" in ctx.warnings[0] and "'ü'" in ctx.warnings[0]


def test_teacher_forcing_columns(verses):
    (vocab, _), _, _ = run_node("deepnodes.text.WordDictionary", {}, [verses])
    t = pa.table({"german": ["In the beginning", "And God said unto Moses again and again"]})
    (out,), specs, ctx = run_node("deepnodes.text.TextToIndexSequence",
                                  {"text_column": "german", "teacher_forcing": True, "length": 6}, [t, vocab])
    inp, tgt = to_numpy(out.column("german_ids_input")), to_numpy(out.column("german_ids_target"))
    assert inp.shape == tgt.shape == (2, 6)
    assert inp[0, 0] == 1 and (inp[0, 1:4] == tgt[0, :3]).all() and tgt[0, 3] == 2 and (tgt[0, 4:] == 0).all()
    assert tgt[1, -1] == 2 and 2 not in inp  # cut rows still end; the decoder input never holds </s>
    assert any("longer than 6" in w for w in ctx.warnings)


def test_bad_inputs(verses):
    (vocab, _), _, _ = run_node("deepnodes.text.CharacterDictionary", {}, [verses])
    with pytest.raises(ColumnError, match="option 'text_column'"):
        run_node("deepnodes.text.CharacterDictionary", {"text_column": "body"}, [verses])
    with pytest.raises(ColumnError, match="must be a text column"):
        run_node("deepnodes.text.CharacterDictionary", {"text_column": "verse"}, [verses])
    with pytest.raises(NodeError, match="empty"):
        run_node("deepnodes.text.CharacterDictionary", {}, [pa.table({"text": ["", None]})])
    with pytest.raises(ColumnError, match="holds no text"):
        run_node("deepnodes.text.SlidingWindows", {}, [pa.table({"text": [""]}), vocab])
    with pytest.raises(NodeError, match="fewer than one window"):
        run_node("deepnodes.text.SlidingWindows", {"length": 50}, [pa.table({"text": ["short"]}), vocab])
