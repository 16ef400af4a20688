"""Issue 17 section 7: BLEU, chrF and CER checked against values known independently of our code.

The pair is sacrebleu's own README example (its first reference stream). BLEU by hand, 13a tokens (the period
split off, "wasn't" kept whole): hypothesis 17 tokens, reference 17, so BP = 1; clipped n-gram matches
1-grams 6+2+4 = 12/17, 2-grams 5+0+1 = 6/14, 3-grams 4+0+0 = 4/11, 4-grams 3+0+0 = 3/8;
BLEU = 100 * (12/17 * 6/14 * 4/11 * 3/8) ** (1/4) = 45.0675 (sacrebleu prints "BLEU = 45.07 70.6/42.9/36.4/37.5").
"""
import math

import pyarrow as pa
import pytest

from deepnodes.dl.text_metrics import character_error_rate, corpus_bleu, corpus_chrf, edit_distance
from tests.data.data_helpers import run_node

HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
REFS = ["The dog bit the man.", "It was not unexpected.", "The man bit him first."]
BLEU = 100 * (12 / 17 * 6 / 14 * 4 / 11 * 3 / 8) ** 0.25


def test_bleu_of_sacrebleus_readme_pair_is_the_value_worked_out_by_hand():
    assert math.isclose(corpus_bleu(HYPS, REFS), BLEU, abs_tol=1e-9)
    assert round(BLEU, 2) == 45.07


def test_bleu_brevity_penalty_by_hand():
    """A hypothesis that is a correct 6-token prefix of a 9-token reference: every precision is 1, so
    BLEU = 100 * BP = 100 * exp(1 - 9/6)."""
    assert math.isclose(corpus_bleu(["a b c d e f"], ["a b c d e f g h i"]), 100 * math.exp(1 - 9 / 6), abs_tol=1e-9)


def test_chrf_is_100_for_identical_text_and_0_with_no_character_in_common():
    assert corpus_chrf(REFS, REFS) == pytest.approx(100.0)
    assert corpus_chrf(["xyz"], ["abc"]) == pytest.approx(0.0)


def test_character_error_rate_by_hand():
    assert edit_distance("kitten", "sitting") == 3  # k->s, e->i, +g
    assert character_error_rate(["kitten", "abc"], ["sitting", "abc"]) == pytest.approx(3 / 10)


def test_the_translation_scorer_node_reports_the_same_bleu():
    table = pa.table({"german": REFS, "translation": HYPS})
    (scores,), ctx, _ = run_node("deepnodes.text.TranslationScorer", {}, [table])
    assert math.isclose(scores.to_pylist()[0]["bleu"], BLEU, abs_tol=5e-4)  # the node reports 3 decimals
    assert math.isclose(ctx.scalars["bleu"], BLEU, abs_tol=5e-4)
