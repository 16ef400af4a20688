"""A served text classifier (Service Input → Text to Index Sequence → Network Executor → Service Output) takes the
fast paths when its rows do not depend on each other (a fixed `length`): the bundle's runner and the nodes give the
engine's rows for any batch of real sentences, and a micro-batch gives each request its own rows. Padding to the
longest row of the table depends on the rows beside it, so that segment stays on the engine path."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepnodes.core import Engine, Workflow, registry
from deepnodes.service.decode import decode_rows, table_rows
from tests.bundle.test_bundle_text import _pairs  # real English / German sentences, labelled

LENGTH = 24


TEXTS = [s for s, _ in _pairs("test", 15)] + ["", "Ünïcödé ☃ — and unseen wörds!", "don't", "x" * 200]


def build(ids: dict, backend: str = "auto", folder=None):
    """Train a character-level language classifier on real English / German sentences; serve its executor."""
    import csv

    registry.discover()
    csv_path = folder / "train.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "language"])
        w.writerows(_pairs("train", 120))
    binding = [{"columns": ["text_ids"], "converter": "tensor"}]
    wf = Workflow("which language, served")
    wf.add("deepnodes.data.CSVReader", "train", {"path": str(csv_path)})
    wf.add("deepnodes.text.CharacterDictionary", "dictionary", {"text_column": "text", "lowercase": True})
    wf.add("deepnodes.text.TextToIndexSequence", "train_ids", {"text_column": "text", "length": LENGTH})
    wf.add("deepnodes.layers.Input", "input", {"name": "text_ids", "shape": [LENGTH if ids.get("length") else -1],
                                              "dtype": "int64"})
    wf.add("deepnodes.layers.Embedding", "embedding", {"output_dim": 8})
    wf.add("deepnodes.layers.GlobalAveragePooling1D", "pool", {})
    wf.add("deepnodes.layers.Dense", "dense", {"units": 2, "activation": "softmax"})
    wf.add("deepnodes.dl.NetworkLearner", "learner", {
        "epochs": 3, "seed": 1, "batch_size": 32, "inputs": binding,
        "targets": [{"columns": ["language"], "loss": "sparse_categorical_crossentropy"}]})
    wf.add("deepnodes.service.ServiceInput", "request", {
        "columns": [{"name": "text", "kind": "string", "description": "a sentence"}],
        "example": {"text": "Good morning."}, "max_rows": 64})
    wf.add("deepnodes.text.TextToIndexSequence", "request_ids", {"text_column": "text", **ids})
    wf.add("deepnodes.dl.NetworkExecutor", "executor", {"keep_columns": False, "backend": backend, "inputs": binding})
    wf.add("deepnodes.service.ServiceOutput", "response", {"columns": ["prediction", "probability"]})
    for a, ap, b, bp in [("train", "table", "dictionary", "table"), ("train", "table", "train_ids", "table"),
                         ("dictionary", "dictionary", "train_ids", "dictionary"),
                         ("dictionary", "dictionary", "embedding", "dictionary"),
                         ("input", "network", "embedding", "input"),
                         ("embedding", "network", "pool", "input"), ("pool", "network", "dense", "input"),
                         ("dense", "network", "learner", "network"), ("train_ids", "table", "learner", "table"),
                         ("request", "table", "request_ids", "table"),
                         ("dictionary", "dictionary", "request_ids", "dictionary"),
                         ("request_ids", "table", "executor", "table"), ("learner", "network", "executor", "network"),
                         ("executor", "table", "response", "table")]:
        wf.connect(a, ap, b, bp)
    return wf


def _segment(folder, ids: dict, backend: str = "auto"):
    from deepnodes.service.segment import Segment

    wf = build(ids, backend, folder)
    eng = Engine(wf)
    res = eng.run()
    assert res.ok, {k: v.message for k, v in eng.status.items() if v.state == "failed"}
    eng.save_results(folder / "language.results")
    return Segment(wf, folder / "language.results")


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    return _segment(tmp_path_factory.mktemp("text-fixed"), {"length": LENGTH, "add_start": True})


def _table(segment, texts):
    return decode_rows(segment.columns, [{"text": t} for t in texts], 64)


def _same(a: list[dict], b: list[dict]) -> None:
    assert [r["prediction"] for r in a] == [r["prediction"] for r in b]
    np.testing.assert_allclose([r["probability"] for r in a], [r["probability"] for r in b], atol=1e-5)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=12))
def test_a_fixed_length_text_segment_takes_both_fast_paths_with_the_engines_rows(fixed, texts):
    from deepnodes.service.compiled import BundlePlan, compile_segment
    from deepnodes.service.fast import FastPlan

    assert fixed.row_wise
    table = _table(fixed, texts)
    slow = table_rows(fixed.run(table), fixed.output_columns)
    plans = [FastPlan(fixed), compile_segment(fixed)]
    assert isinstance(plans[1], BundlePlan)  # the bundle's text step, as `deepnodes export` writes it
    for plan in plans:
        fast = table_rows(plan.run(table), fixed.output_columns)
        assert len(fast) == len(texts)
        _same(fast, slow)


def test_micro_batched_text_requests_get_their_own_rows(fixed):
    from deepnodes.service.batcher import Batcher

    groups = [TEXTS[0:1], TEXTS[1:4], TEXTS[4:6], TEXTS[-4:], TEXTS[6:7]]
    seen: list[float] = []
    batcher = Batcher(fixed, max_batch=8, max_wait_ms=50, observe=seen.append)
    assert batcher.fast and batcher.runner == "bundle", (batcher.runner, batcher.why_not_bundle)

    async def all_at_once():
        return await asyncio.gather(*(batcher.submit(_table(fixed, g)) for g in groups))

    outs = asyncio.run(all_at_once())
    batcher.close()
    for g, out in zip(groups, outs):
        _same(table_rows(out, fixed.output_columns), table_rows(fixed.run(_table(fixed, g)), fixed.output_columns))
    assert max(seen) > 1 and sum(seen) == sum(map(len, groups))


def test_padding_to_the_longest_row_keeps_the_engine_path_and_a_torch_executor_takes_the_nodes(tmp_path):
    from deepnodes.service.batcher import Batcher

    for name, ids, backend, runner in (("padded", {"length": None}, "auto", "engine"),
                                       ("torch", {"length": LENGTH}, "torch", "nodes")):
        (tmp_path / name).mkdir()
        seg = _segment(tmp_path / name, ids, backend)
        # padded: a row's length would depend on the other requests in its micro-batch
        assert seg.row_wise == (runner != "engine")
        b = Batcher(seg, max_batch=8, max_wait_ms=5)
        assert b.fast == (runner != "engine") and b.runner == runner, (name, b.runner, b.why_not_bundle)
        texts = TEXTS[:5]
        _same(table_rows(asyncio.run(b.submit(_table(seg, texts))), seg.output_columns),
              table_rows(seg.run(_table(seg, texts)), seg.output_columns))
        b.close()
