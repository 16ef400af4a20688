"""Text quality measures: corpus BLEU and chrF (sacrebleu, on given strings, offline), character error rate,
and bits per character / perplexity of a language model."""
from __future__ import annotations

import math
from typing import Sequence

from .text import TextError


def _check(hyps: Sequence[str | None], refs: Sequence[str | None]) -> tuple[list[str], list[str]]:
    if len(hyps) != len(refs):
        raise TextError(f"there are {len(hyps)} translations but {len(refs)} references")
    if not hyps:
        raise TextError("the table is empty; there is nothing to score")
    return [h or "" for h in hyps], [r or "" for r in refs]


def corpus_bleu(hyps: Sequence[str | None], refs: Sequence[str | None], tokenize: str = "13a") -> float:
    """Corpus BLEU (0-100) with sacrebleu's standard settings (13a tokenisation, exponential smoothing)."""
    import sacrebleu

    h, r = _check(hyps, refs)
    return float(sacrebleu.corpus_bleu(h, [r], tokenize=tokenize).score)


def corpus_chrf(hyps: Sequence[str | None], refs: Sequence[str | None]) -> float:
    """Corpus chrF (0-100, character 6-grams, beta 2) as sacrebleu computes it."""
    import sacrebleu

    h, r = _check(hyps, refs)
    return float(sacrebleu.corpus_chrf(h, [r]).score)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions of characters)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def character_error_rate(hyps: Sequence[str | None], refs: Sequence[str | None]) -> float:
    """Total edit distance / total reference characters (0 = identical; can exceed 1)."""
    h, r = _check(hyps, refs)
    total = sum(len(x) for x in r)
    if total == 0:
        raise TextError("the references are all empty; the character error rate is undefined")
    return sum(edit_distance(a, b) for a, b in zip(h, r)) / total


def bits_per_token(nll_nats: float) -> float:
    return nll_nats / math.log(2)


def perplexity(nll_nats: float) -> float:
    return math.exp(nll_nats)
