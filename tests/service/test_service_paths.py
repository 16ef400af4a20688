"""The served segment in process: the fast path gives the engine path's rows for any batch of real digits, a
micro-batch gives each request its own rows, and request decoding refuses every bad cell naming its row and column."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from digits_service import build, digit_images, png_b64  # noqa: E402

from deepnodes.service.decode import RequestError, decode_rows, table_rows  # noqa: E402
from deepnodes.service.schema import ServiceColumn  # noqa: E402

IMAGES, _ = digit_images(40)


def assert_same_rows(a: list[dict], b: list[dict]) -> None:
    """Same classes; probabilities equal up to float32 rounding (a batch of 8 and a batch of 1 may round apart)."""
    assert [r["prediction"] for r in a] == [r["prediction"] for r in b]
    np.testing.assert_allclose([r["probability"] for r in a], [r["probability"] for r in b], atol=1e-6)


@pytest.fixture(scope="module")
def segment(tmp_path_factory):
    from deepnodes.core import Engine
    from deepnodes.service.segment import Segment

    d = tmp_path_factory.mktemp("paths")
    wf = build()
    eng = Engine(wf)
    assert eng.run().ok
    eng.save_results(d / "digits.results")
    return Segment(wf, d / "digits.results")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, len(IMAGES) - 1), min_size=1, max_size=20))
def test_fast_path_gives_the_engine_paths_rows(segment, picks):
    """Both fast paths: the nodes called in order, and the bundle's runner (`compiled.py`), within 1e-5."""
    from deepnodes.service.compiled import compile_segment
    from deepnodes.service.fast import FastPlan

    table = decode_rows(segment.columns, [{"image": png_b64(IMAGES[i])} for i in picks], 64)
    slow = table_rows(segment.run(table), segment.output_columns)
    for plan in (FastPlan(segment), compile_segment(segment)):
        fast = table_rows(plan.run(table), segment.output_columns)
        assert [list(r) for r in fast] == [list(r) for r in slow] == [["prediction", "probability"]] * len(picks)
        assert_same_rows(fast, slow)


def test_micro_batches_split_back_to_each_request(segment):
    from deepnodes.service.batcher import Batcher

    sizes = [1, 3, 2, 1, 5, 1, 4]
    tables, at = [], 0
    for n in sizes:
        tables.append(decode_rows(segment.columns, [{"image": png_b64(IMAGES[at + k])} for k in range(n)], 64))
        at += n
    seen: list[float] = []
    batcher = Batcher(segment, max_batch=8, max_wait_ms=50, observe=seen.append)

    async def all_at_once():
        return await asyncio.gather(*(batcher.submit(t) for t in tables))

    outs = asyncio.run(all_at_once())
    batcher.close()
    for t, out in zip(tables, outs):
        alone = table_rows(segment.run(t), segment.output_columns)
        assert_same_rows(table_rows(out, segment.output_columns), alone)
    assert max(seen) > 1 and sum(seen) == sum(sizes)  # batched, every row once


def test_a_bad_request_in_a_batch_fails_only_itself(segment):
    from deepnodes.service.batcher import Batcher
    from deepnodes.service.segment import NodeFailed

    good = decode_rows(segment.columns, [{"image": png_b64(IMAGES[0])}], 64)
    import pyarrow as pa

    bad = good.set_column(0, good.schema.field(0), pa.array([b"not an image"], pa.binary()))  # past decoding
    batcher = Batcher(segment, max_batch=8, max_wait_ms=50)

    async def both():
        return await asyncio.gather(batcher.submit(good), batcher.submit(bad), return_exceptions=True)

    ok, failed = asyncio.run(both())
    batcher.close()
    assert_same_rows(table_rows(ok, segment.output_columns), table_rows(segment.run(good), segment.output_columns))
    assert isinstance(failed, NodeFailed) and "node 'request_tensor'" in str(failed)


# ------------------------------------------------------------------ decoding, for any declared schema
KINDS = ["number", "string", "category", "image", "tensor"]


@st.composite
def schema_and_rows(draw):
    n = draw(st.integers(1, 4))
    cols = []
    for j in range(n):
        kind = draw(st.sampled_from(KINDS))
        shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)) if kind == "tensor" else None
        if kind == "image":
            shape = [8, 8]
        cats = ["a", "b", "c"] if kind == "category" else None
        cols.append(ServiceColumn(name=f"c{j}", kind=kind, shape=shape, categories=cats))
    rows = []
    for i in range(draw(st.integers(1, 4))):
        row = {}
        for c in cols:
            if c.kind == "number":
                row[c.name] = draw(st.floats(-1e6, 1e6))
            elif c.kind == "string":
                row[c.name] = draw(st.text(max_size=5))
            elif c.kind == "category":
                row[c.name] = draw(st.sampled_from(c.categories))
            elif c.kind == "image":
                row[c.name] = png_b64(IMAGES[i])
            else:
                row[c.name] = np.full(c.shape, float(i)).tolist()
        rows.append(row)
    return cols, rows


BREAK = {  # kind -> a wrong value for it
    "number": ["7", True, None, [1.0]],
    "string": [3, None, ["x"]],
    "category": ["z", 1, None],
    "image": ["@@", 5, png_b64(np.zeros((4, 8)))],
    "tensor": ["x", [[1.0]] * 5, 1.0, [True]],
}


@settings(max_examples=60, deadline=None)
@given(schema_and_rows(), st.data())
def test_every_bad_cell_is_refused_naming_its_row_and_column(case, data):
    from deepnodes.table.arrow import spec_of
    from deepnodes.service.schema import table_spec

    cols, rows = case
    table = decode_rows(cols, rows, 10)
    assert table.num_rows == len(rows)
    assert [(c.name, c.kind) for c in spec_of(table).columns] == [(c.name, c.kind) for c in table_spec(cols).columns]
    i = data.draw(st.integers(0, len(rows) - 1))
    c = data.draw(st.sampled_from(cols))
    wrong = data.draw(st.sampled_from(BREAK[c.kind]))
    bad = [dict(r) for r in rows]
    bad[i][c.name] = wrong
    with pytest.raises(RequestError) as e:
        decode_rows(cols, bad, 10)
    assert f"row {i}, column '{c.name}'" in str(e.value) and e.value.status == 422
    del bad[i][c.name]
    with pytest.raises(RequestError, match=f"row {i} has no column '{c.name}'"):
        decode_rows(cols, bad, 10)
    with pytest.raises(RequestError, match="at most 10") as e:
        decode_rows(cols, rows * 11, 10)
    assert e.value.status == 413
