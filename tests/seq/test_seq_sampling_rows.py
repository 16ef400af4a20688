"""Every random draw has an owner: a generated row's text comes from the node's seed and that row's own seed text,
never from the other rows of the table (their number, order or lengths), so the editor's "try it" on one seed
text gives what the Text Generator gave for it; a different seed gives a different text."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from deepnodes.dl.decode import GraphRunner, sample
from tests.seq.seq_nets import char_lm

V = 9
RUNNER = GraphRunner(char_lm(V, emb=4, units=8))
prefix = st.lists(st.integers(3, V - 1), min_size=1, max_size=6).map(lambda xs: np.array(xs, np.int64))


@settings(max_examples=20, deadline=None)
@given(st.lists(prefix, min_size=1, max_size=5), st.integers(0, 2 ** 40), st.floats(0.3, 2.0))
def test_a_rows_sample_does_not_depend_on_the_other_rows(prefixes, seed, temperature):
    together = sample(RUNNER, prefixes, 8, temperature, seed=seed)
    for p, got in zip(prefixes, together):
        alone = sample(RUNNER, [p], 8, temperature, seed=seed)[0]
        assert (alone == got).all()
    again = sample(RUNNER, prefixes[::-1], 8, temperature, seed=seed)[::-1]
    assert all((a == b).all() for a, b in zip(again, together))


def test_the_seed_changes_the_draws():
    p = [np.array([3, 4, 5], np.int64)]
    draws = {tuple(sample(RUNNER, p, 20, 1.5, seed=s)[0]) for s in range(6)}
    assert len(draws) > 1
