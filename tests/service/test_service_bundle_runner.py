"""The service's bundle runner (`service/compiled.py`): a segment Service Input → Image to Tensor → Network Executor
→ Service Output compiles to the bundle's preprocessing-as-data (its rows equal the engine's: test_service_paths.py);
a segment the runner does not carry is not compiled, says why, and still gives the engine's rows."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from digits_service import build, digit_images, png_b64  # noqa: E402

from deepnodes.service.decode import decode_rows, table_rows  # noqa: E402

IMAGES, _ = digit_images(40)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from deepnodes.core import Engine

    d = tmp_path_factory.mktemp("bundle_runner") / "digits.results"
    eng = Engine(build())
    assert eng.run().ok
    eng.save_results(d)
    return d


@pytest.fixture(scope="module")
def segment(results):
    from deepnodes.service.segment import Segment

    return Segment(build(), results)


def test_the_batcher_takes_the_bundle_runner(segment):
    from deepnodes.service.batcher import Batcher

    b = Batcher(segment)
    assert (b.runner, b.why_not_bundle) == ("bundle", None)
    b.close()


@pytest.mark.parametrize("node, option, value, why", [
    ("response", "columns", [], "columns other than"),
    ("response", "columns", ["prediction", "dense_1"], "columns other than"),
    ("executor", "backend", "torch", "options"),
    ("executor", "output_format", "columns", None),
    ("request_tensor", "scale", "none", None),  # still carried: a different scale is data, not code
])
def test_what_the_runner_does_not_carry_takes_the_nodes(results, node, option, value, why):
    from deepnodes.service.batcher import Batcher
    from deepnodes.service.segment import Segment

    wf = build()
    wf.set_option(node, option, value)
    seg = Segment(wf, results)
    b = Batcher(seg)
    try:
        if why is None:
            assert b.runner == "bundle"
        else:
            assert b.runner == "nodes" and why in b.why_not_bundle
        if seg.output_columns:  # either way, the rows the engine gives
            table = decode_rows(seg.columns, [{"image": png_b64(IMAGES[i])} for i in range(6)], 64)
            got, want = table_rows(b.run(table), seg.output_columns), table_rows(seg.run(table), seg.output_columns)
            assert [r["prediction"] for r in got] == [r["prediction"] for r in want]
    finally:
        b.close()
