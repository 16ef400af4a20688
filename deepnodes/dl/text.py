"""Text as token ids: dictionaries (character, word, subword), encoding with start/end tokens, truncation and
padding, sliding windows for language models, and decoding back to text. numpy only (no torch).

A `Vocabulary` is a `Model` (it flows through a `model` port and is saved as JSON, plus the sentencepiece
model for subwords). Its first four ids are always the special tokens:

    0 <pad>   padding (masked out of the loss)
    1 <s>     start of sequence (the decoder's first input)
    2 </s>    end of sequence (decoding stops here)
    3 <unk>   anything not in the dictionary

so a network trained with one dictionary can be decoded by any node that gets the same dictionary.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from deepnodes.core.model import Model, ModelSpec

PAD, START, END, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")
LEVELS = ("character", "word", "subword")
_WORD_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)


class TextError(ValueError):
    """Bad text input or options; one sentence naming the option or column."""


def word_tokens(text: str, lowercase: bool = False) -> list[str]:
    """Words and punctuation marks: "Don't go!" -> ["Don't", "go", "!"]."""
    if lowercase:
        text = text.lower()
    return _WORD_RE.findall(text)


def detokenize_words(tokens: Sequence[str]) -> str:
    """Words joined by spaces, with no space before closing punctuation."""
    out = ""
    for t in tokens:
        if out and not (len(t) == 1 and t in ".,!?;:)]}»“\"'" ) and not out.endswith(("(", "[", "„", "«")):
            out += " "
        out += t
    return out


@dataclass
class Encoded:
    """Token ids of several texts and how many tokens were unknown."""

    ids: list[np.ndarray]
    unknown: int
    unknown_examples: list[str]
    total: int


class Vocabulary(Model):
    """A token dictionary: index -> token, with counts from the text it was built on."""

    model_type = "text.dictionary"

    def __init__(self, tokens: Sequence[str], counts: Sequence[int] | None = None, level: str = "character",
                 lowercase: bool = False, sp_model: bytes | None = None):
        if level not in LEVELS:
            raise TextError(f"level '{level}' is not one of {', '.join(LEVELS)}")
        tokens = list(tokens)
        if tuple(tokens[:4]) != SPECIAL_TOKENS:
            raise TextError("a dictionary must start with the special tokens " + ", ".join(SPECIAL_TOKENS))
        self.tokens = tokens
        self.counts = list(counts) if counts is not None else [0] * len(tokens)
        self.level = level
        self.lowercase = lowercase
        self.sp_model = sp_model
        self.index = {t: i for i, t in enumerate(tokens)}
        self._sp = None
        self._lut: np.ndarray | None = None

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def size(self) -> int:
        return len(self.tokens)

    def spec(self) -> ModelSpec:
        return ModelSpec(self.model_type, {"level": self.level, "size": self.size})

    def summary(self) -> dict:
        return {"model_type": self.model_type, "level": self.level, "size": self.size,
                "most_frequent": [t for t, _ in sorted(zip(self.tokens[4:], self.counts[4:]), key=lambda x: -x[1])[:20]]}

    def to_json(self) -> dict:
        return {"format": "deepnodes.dictionary/1", "level": self.level, "lowercase": self.lowercase,
                "tokens": self.tokens, "counts": self.counts}

    def save(self, folder: Path) -> None:
        (folder / "dictionary.json").write_text(json.dumps(self.to_json(), ensure_ascii=False))
        if self.sp_model is not None:
            (folder / "subword.model").write_bytes(self.sp_model)

    @classmethod
    def load(cls, folder: Path) -> "Vocabulary":
        d = json.loads((Path(folder) / "dictionary.json").read_text())
        sp = Path(folder) / "subword.model"
        return cls(d["tokens"], d.get("counts"), d["level"], d.get("lowercase", False),
                   sp.read_bytes() if sp.exists() else None)

    def to_table(self):
        """One row per token: index, token, count, special."""
        import pyarrow as pa

        return pa.table({"index": pa.array(range(self.size), pa.int32()), "token": pa.array(self.tokens, pa.string()),
                         "count": pa.array(self.counts, pa.int64()),
                         "special": pa.array([i < 4 for i in range(self.size)], pa.bool_())})

    # ------------------------------------------------------------------ encoding
    @property
    def sp(self):
        if self._sp is None:
            import sentencepiece as spm

            self._sp = spm.SentencePieceProcessor(model_proto=self.sp_model)
        return self._sp

    def _char_lut(self) -> np.ndarray:
        if self._lut is None:
            top = max([ord(t) for t in self.tokens[4:] if len(t) == 1] + [127]) + 1
            lut = np.full(top, UNK, dtype=np.int32)
            for t, i in self.index.items():
                if len(t) == 1 and i >= 4:
                    lut[ord(t)] = i
            self._lut = lut
        return self._lut

    def encode_one(self, text: str) -> np.ndarray:
        """Token ids of one text (no start/end tokens)."""
        if self.lowercase:
            text = text.lower()
        if self.level == "character":
            cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            lut = self._char_lut()
            out = np.full(len(cps), UNK, dtype=np.int32)
            inside = cps < len(lut)
            out[inside] = lut[cps[inside]]
            return out
        if self.level == "word":
            return np.fromiter((self.index.get(t, UNK) for t in word_tokens(text)), dtype=np.int32)
        return np.asarray(self.sp.encode(text, out_type=int), dtype=np.int32)

    def encode(self, texts: Iterable[str | None]) -> Encoded:
        ids, unknown, total, examples = [], 0, 0, []
        for t in texts:
            a = self.encode_one(t or "")
            ids.append(a)
            total += len(a)
            u = a == UNK
            n = int(u.sum())
            if n:
                unknown += n
                if len(examples) < 5:
                    examples.extend(self._unknown_pieces(t or "", u)[:5 - len(examples)])
        return Encoded(ids, unknown, examples, total)

    def _unknown_pieces(self, text: str, mask: np.ndarray) -> list[str]:
        if self.level == "character":
            t = text.lower() if self.lowercase else text
            return list(dict.fromkeys(t[i] for i in np.flatnonzero(mask)))
        if self.level == "word":
            toks = word_tokens(text, self.lowercase)
            return list(dict.fromkeys(toks[i] for i in np.flatnonzero(mask)))
        pieces = self.sp.encode(text.lower() if self.lowercase else text, out_type=str)
        return list(dict.fromkeys(pieces[i].lstrip("▁") or pieces[i] for i in np.flatnonzero(mask) if i < len(pieces)))

    def decode(self, ids: Iterable[int], stop_at_end: bool = True) -> str:
        """Text of a sequence of ids: padding and start tokens are dropped; stops at the end token."""
        toks: list[int] = []
        for i in ids:
            i = int(i)
            if i == END and stop_at_end:
                break
            if i in (PAD, START, END):
                continue
            toks.append(i)
        if self.level == "subword":
            return self.sp.decode([i for i in toks])
        pieces = [self.tokens[i] if 0 <= i < self.size else SPECIAL_TOKENS[UNK] for i in toks]
        if self.level == "character":
            return "".join(pieces)
        return detokenize_words(pieces)


# ---------------------------------------------------------------------- building dictionaries
def _finish(counter: Counter, min_count: int, max_size: int | None, level: str, lowercase: bool) -> Vocabulary:
    items = [(t, c) for t, c in counter.items() if c >= min_count and t not in SPECIAL_TOKENS]
    items.sort(key=lambda tc: (-tc[1], tc[0]))  # most frequent first; ties in a stable order
    if max_size is not None:
        items = items[:max(0, max_size - 4)]
    if not items:
        raise TextError("the text is empty (or no token reaches the minimum count); a dictionary needs some text")
    return Vocabulary(list(SPECIAL_TOKENS) + [t for t, _ in items], [0, 0, 0, 0] + [c for _, c in items], level,
                      lowercase)


def build_character_vocabulary(texts: Iterable[str | None], min_count: int = 1, max_size: int | None = None,
                               lowercase: bool = False, always: str = "\n") -> Vocabulary:
    """Characters of `texts` seen at least `min_count` times (at most `max_size` entries with the specials).

    The characters of `always` are in the dictionary even when the text lacks them (the line break that
    joins rows into one stream for a language model)."""
    counter: Counter = Counter()
    for t in texts:
        if t:
            counter.update(t.lower() if lowercase else t)
    if not counter:
        raise TextError("the text is empty; a dictionary needs some text")
    for ch in always:
        counter[ch] = max(counter.get(ch, 0), min_count)
    return _finish(counter, min_count, max_size, "character", lowercase)


def build_word_vocabulary(texts: Iterable[str | None], min_count: int = 1, max_size: int | None = None,
                          lowercase: bool = False) -> Vocabulary:
    counter: Counter = Counter()
    for t in texts:
        if t:
            counter.update(word_tokens(t, lowercase))
    return _finish(counter, min_count, max_size, "word", lowercase)


def train_subword_vocabulary(texts: Iterable[str | None], vocab_size: int = 2000, model_type: str = "bpe",
                             character_coverage: float = 1.0, lowercase: bool = False) -> Vocabulary:
    """A sentencepiece model trained on `texts` (offline, in memory, single-threaded so it is reproducible)."""
    import io

    import sentencepiece as spm

    data = [(t.lower() if lowercase else t) for t in texts if t and t.strip()]
    if not data:
        raise TextError("the text is empty; a subword tokenizer needs some text to learn from")
    buf = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(data), model_writer=buf, vocab_size=vocab_size, model_type=model_type,
            character_coverage=character_coverage, pad_id=PAD, bos_id=START, eos_id=END, unk_id=UNK,
            pad_piece=SPECIAL_TOKENS[PAD], bos_piece=SPECIAL_TOKENS[START], eos_piece=SPECIAL_TOKENS[END],
            unk_piece=SPECIAL_TOKENS[UNK], num_threads=1, shuffle_input_sentence=False,
            hard_vocab_limit=False, minloglevel=2)
    except RuntimeError as e:
        raise TextError(f"the subword tokenizer could not be trained with vocab_size {vocab_size}: {e}") from None
    model = buf.getvalue()
    sp = spm.SentencePieceProcessor(model_proto=model)
    tokens = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    tokens[:4] = list(SPECIAL_TOKENS)
    counts = Counter()
    for t in data:
        counts.update(sp.encode(t, out_type=int))
    return Vocabulary(tokens, [counts.get(i, 0) for i in range(len(tokens))], "subword", lowercase, model)


# ---------------------------------------------------------------------- sequences
def pad_sequences(seqs: Sequence[np.ndarray], length: int | None = None, padding: str = "post",
                  truncating: str = "post", value: int = PAD) -> np.ndarray:
    """(N, L) int32 array as Keras's pad_sequences: `length` None pads to the longest sequence."""
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise TextError("options 'padding' and 'truncating' must each be 'pre' or 'post'")
    L = length if length is not None else max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), L), value, dtype=np.int32)
    for i, s in enumerate(seqs):
        if len(s) > L:
            s = s[:L] if truncating == "post" else s[len(s) - L:]
        if padding == "post":
            out[i, :len(s)] = s
        else:
            out[i, L - len(s):] = s
    return out


def index_sequences(vocab: Vocabulary, texts: Sequence[str | None], add_start: bool = False, add_end: bool = False,
                    length: int | None = None, pad: bool = True, padding: str = "post",
                    truncating: str = "post") -> tuple[np.ndarray | list[np.ndarray], Encoded, int]:
    """Texts -> ids with optional start/end tokens; padded to `length` (or the longest) when `pad`.

    Returns (ids, encoded, n_truncated). When truncating at the end ('post') an end token is kept as the
    last id, so a decoder still learns to stop."""
    enc = vocab.encode(texts)
    seqs = []
    n_trunc = 0
    for a in enc.ids:
        parts = ([np.array([START], np.int32)] if add_start else []) + [a] + \
                ([np.array([END], np.int32)] if add_end else [])
        s = np.concatenate(parts) if len(parts) > 1 else a
        if length is not None and len(s) > length:
            n_trunc += 1
            if truncating == "post":
                s = s[:length].copy()
                if add_end:
                    s[-1] = END
            else:
                s = s[len(s) - length:].copy()
                if add_start:
                    s[0] = START
        seqs.append(s)
    if not pad:
        return seqs, enc, n_trunc
    return pad_sequences(seqs, length, padding, truncating), enc, n_trunc


def sliding_windows(ids: np.ndarray, length: int, step: int = 1, targets: str = "shifted") -> tuple[np.ndarray, np.ndarray]:
    """Fixed-length windows over one id stream with next-token targets (views, no Python loop).

    `targets` = 'next': (N, length) windows and (N,) the id after each window;
    'shifted': (N, length) windows and (N, length) the same windows shifted by one (a target per step).
    """
    if length < 1 or step < 1:
        raise TextError("options 'length' and 'step' must be at least 1")
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    if len(ids) < length + 1:
        raise TextError(f"the text has {len(ids)} tokens, fewer than one window of {length} plus its target; "
                        "lower option 'length' or give more text")
    view = np.lib.stride_tricks.sliding_window_view(ids, length + 1)[::step]
    if targets == "next":
        return view[:, :length].copy(), view[:, length].copy()
    if targets == "shifted":
        return view[:, :length].copy(), view[:, 1:].copy()
    raise TextError(f"option 'targets' must be 'next' or 'shifted'; it is '{targets}'")


def stream_ids(vocab: Vocabulary, texts: Sequence[str | None], separator: str = "\n") -> tuple[np.ndarray, Encoded]:
    """All texts joined by `separator` as one id stream (characters; words and subwords join per text)."""
    if vocab.level == "character":
        joined = separator.join(t or "" for t in texts)
        enc = vocab.encode([joined])
        return enc.ids[0], enc
    enc = vocab.encode(texts)
    return (np.concatenate(enc.ids) if enc.ids else np.zeros(0, np.int32)), enc
