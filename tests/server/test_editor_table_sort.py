"""The table view's sort (the editor's sortable columns): any page of a sorted view holds exactly the rows a
full sort puts there, missing values last; columns without an order are refused naming the column."""
from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from deepnodes.server.views import table_view

values = st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=0, max_size=40)


def _key(v, descending):
    return (v is None, -v if (descending and v is not None) else v if v is not None else 0)


@settings(max_examples=60, deadline=None)
@given(values, st.integers(0, 45), st.integers(1, 10), st.booleans())
def test_a_sorted_page_is_the_slice_of_the_full_sort(xs, offset, limit, descending):
    t = pa.table({"x": pa.array(xs, pa.int64()), "row": pa.array(range(len(xs)), pa.int64())})
    page = table_view(t, offset, limit, sort="x", descending=descending)
    want = sorted(range(len(xs)), key=lambda i: _key(xs[i], descending))[offset:offset + limit]
    got_x = [r[0] for r in page["rows"]]
    assert got_x == [xs[i] for i in want]
    assert [xs[p] for p in page["positions"]] == got_x
    assert [r[1] for r in page["rows"]] == page["positions"]
    assert page["rows_total"] == len(xs)


def test_categories_sort_by_their_text_and_strings_too():
    t = pa.table({"c": pa.array(["pear", "apple", None, "fig"]).dictionary_encode(), "s": ["b", "a", "d", "c"]})
    assert [r[0] for r in table_view(t, 0, 10, sort="c")["rows"]] == ["apple", "fig", "pear", None]
    assert [r[1] for r in table_view(t, 0, 10, sort="s", descending=True)["rows"]] == ["d", "c", "b", "a"]


def test_columns_without_an_order_are_refused_by_name():
    import numpy as np

    from deepnodes.table.arrow import tensor_array

    t = pa.table({"t": tensor_array(np.zeros((3, 2, 2), dtype=np.float32)), "n": [1, 2, 3]})
    with pytest.raises(ValueError, match="column 't' holds tensor values"):
        table_view(t, 0, 10, sort="t")
    with pytest.raises(ValueError, match="no column 'nope'"):
        table_view(t, 0, 10, sort="nope")
