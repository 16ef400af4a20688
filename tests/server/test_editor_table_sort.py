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


def test_the_table_route_sorts_and_refuses_an_unorderable_column_in_one_sentence(tmp_path):
    from fastapi.testclient import TestClient

    from deepnodes.server.app import create_app
    from tests.server.test_server_api import TOKEN, H, small_graph, wait_state

    with TestClient(create_app(tmp_path, TOKEN)) as c:
        doc = small_graph(c)
        assert c.post(f"/api/docs/{doc['id']}/execute", headers=H, json={"nodes": ["flt"]}).status_code == 200
        assert wait_state(c, doc["id"], "flt")["state"] == "executed"
        url = f"/api/docs/{doc['id']}/nodes/flt/ports/table/table"
        stored = c.get(url + "?limit=200", headers=H).json()["rows"]
        t = c.get(url + "?sort=x&descending=true&offset=1&limit=3", headers=H).json()
        want = sorted(range(len(stored)), key=lambda i: -stored[i][0])[1:4]
        assert t["positions"] == want and [r[0] for r in t["rows"]] == [stored[i][0] for i in want]
        labels = [r[1] for r in c.get(url + "?sort=label&limit=200", headers=H).json()["rows"]]
        assert labels == sorted(r[1] for r in stored)
        r = c.get(url + "?sort=img", headers=H)
        assert r.status_code == 400 and r.json()["error"] == "column 'img' holds tensor values, which have no order; sort by another column"
        r = c.get(url + "?sort=nope", headers=H)
        assert r.status_code == 400 and "no column 'nope'" in r.json()["error"]
