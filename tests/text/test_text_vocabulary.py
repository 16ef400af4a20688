import numpy as np
import pyarrow as pa
import pytest

from deepnodes.core.model import MODEL_IO
from deepnodes.datasets.text import en_de_table, kjv_table
from deepnodes.dl import text as T


@pytest.fixture(scope="module")
def genesis():
    t = kjv_table("all")
    return [x for b, x in zip(t.column("book").to_pylist(), t.column("text").to_pylist()) if b == "Genesis"]


def test_character_dictionary_counts_cutoff_and_specials(genesis):
    v = T.build_character_vocabulary(genesis, min_count=1)
    assert v.tokens[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert v.tokens[4] == " " and v.tokens[5] == "e"  # most frequent first
    assert "\n" in v.index  # always included, joins rows
    rare = [t for t, c in zip(v.tokens[4:], v.counts[4:]) if 0 < c < 50 and t != "\n"]
    assert rare
    v50 = T.build_character_vocabulary(genesis, min_count=50)
    assert not set(rare) & set(v50.tokens) and v50.size < v.size
    enc = v50.encode([rare[0] * 3 + "e"])
    assert enc.unknown == 3 and enc.ids[0].tolist() == [T.UNK] * 3 + [v50.index["e"]]


def test_character_round_trip_and_padding(genesis):
    v = T.build_character_vocabulary(genesis)
    ids, enc, n_trunc = T.index_sequences(v, genesis[:5], add_start=True, add_end=True)
    assert ids.shape == (5, max(len(s) for s in genesis[:5]) + 2) and n_trunc == 0
    assert ids[:, 0].tolist() == [T.START] * 5
    assert [v.decode(r) for r in ids] == genesis[:5]
    short, _, n_trunc = T.index_sequences(v, genesis[:5], add_start=True, add_end=True, length=12)
    assert short.shape == (5, 12) and n_trunc == 5 and (short[:, -1] == T.END).all()
    pre, _, _ = T.index_sequences(v, ["ab", "abcd"], length=3, padding="pre", truncating="pre")
    assert v.decode(pre[0]) == "ab" and pre[0, 0] == T.PAD and v.decode(pre[1]) == "bcd"


def test_word_dictionary_and_detokenize():
    v = T.build_word_vocabulary(["Don't go, the dog said!", "the dog went"], lowercase=True)
    assert v.tokens[4:6] == ["dog", "the"]
    ids, _, _ = T.index_sequences(v, ["The dog said: go!"], pad=False)
    assert v.decode(ids[0]) == "the dog said <unk> go!"


def test_subword_tokenizer_is_offline_reproducible_and_round_trips():
    german = en_de_table("ding", "train").column("german").to_pylist()[:3000]
    a = T.train_subword_vocabulary(german, vocab_size=500)
    b = T.train_subword_vocabulary(german, vocab_size=500)
    assert a.tokens == b.tokens and a.size == 500 and a.tokens[:4] == list(T.SPECIAL_TOKENS)
    ids, enc, _ = T.index_sequences(a, german[:20], add_start=True, add_end=True)
    assert [a.decode(r) for r in ids] == german[:20]
    assert ids.shape[1] < max(len(s) for s in german[:20])  # shorter than characters


def test_empty_text_is_refused():
    with pytest.raises(T.TextError, match="empty"):
        T.build_character_vocabulary(["", None])
    with pytest.raises(T.TextError, match="empty"):
        T.train_subword_vocabulary([" ", ""])


def test_sliding_windows_are_views_with_next_targets():
    ids = np.arange(20, dtype=np.int32)
    x, y = T.sliding_windows(ids, 5, 5, "shifted")
    assert x.shape == (3, 5) and (y == x + 1).all()
    x, y = T.sliding_windows(ids, 5, 1, "next")
    assert x.shape == (15, 5) and (y == x[:, -1] + 1).all()
    with pytest.raises(T.TextError, match="fewer than one window"):
        T.sliding_windows(ids[:5], 5)


def test_vocabulary_saves_and_loads(tmp_path):
    german = en_de_table("ding", "train", limit=800).column("german").to_pylist()
    for v in (T.build_character_vocabulary(german), T.train_subword_vocabulary(german, 300)):
        name = MODEL_IO.save(v, str(tmp_path / v.level))
        w = MODEL_IO.load(str(tmp_path / name))
        assert w.tokens == v.tokens and w.level == v.level
        assert w.encode_one(german[0]).tolist() == v.encode_one(german[0]).tolist()
        assert isinstance(v.to_table(), pa.Table) and v.to_table().num_rows == v.size
