"""Cross-Validation: folds (property-based), nested caching, determinism of iterations, cancel, bad input."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepnodes.core import Engine, Workflow
from deepnodes.core.component import memo_clear
from deepnodes.table.folds import FoldError, fold_indices
from tests.flow.flow_bodies import cheap_fold_body, dense_fold_body, executing, outer

CV = "deepnodes.flow.CrossValidation"


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo_clear()


@given(labels=st.lists(st.sampled_from("abc"), min_size=6, max_size=60), k=st.integers(2, 6),
       method=st.sampled_from(["stratified", "random", "leave_one_out"]), seed=st.integers(0, 2 ** 40))
def test_folds_hold_every_row_out_exactly_once_and_repeat_with_the_seed(labels, k, method, seed):
    t = pa.table({"y": labels})
    try:
        folds = fold_indices(t, k, method, seed, "y")
    except FoldError as e:
        counts = {c: labels.count(c) for c in set(labels)}
        assert method == "stratified" and min(counts.values()) < k and str(e).count(".") <= 1
        return
    held = np.concatenate([h for _, h in folds])
    assert sorted(held.tolist()) == list(range(len(labels)))
    for tr, h in folds:
        assert not set(tr) & set(h) and len(tr) + len(h) == len(labels)
        if method == "stratified":  # each class spread over the folds as evenly as it can be
            for c in set(labels):
                assert abs(sum(labels[i] == c for i in h) - labels.count(c) / k) < 1
    again = fold_indices(t, k, method, seed, "y")
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))


def cv_workflow(body: dict, **cfg) -> Workflow:
    return outer(CV, {"body": body, "folds": 3, "class_column": "class_name", "seed": 5, **cfg}, holder="cv")


def test_cross_validation_of_a_trained_net_collects_folds_and_repeats_from_the_cache():
    wf = cv_workflow(dense_fold_body(epochs=1))
    eng = Engine(wf)
    events: list[dict] = []
    eng.subscribe(events.append)
    res = eng.run()
    assert res.ok, eng.status["cv"].message
    preds, per_fold, summary = (eng.output("cv", p) for p in ("predictions", "fold_results", "summary"))
    assert preds.num_rows == 1797 and sorted(set(preds.column("fold").to_pylist())) == [1, 2, 3]
    acc = np.array(per_fold.column("scorer.accuracy").to_pylist())
    assert acc.shape == (3,) and acc.min() > 0.5  # a dense net on 8x8 digits after one epoch
    row = summary.to_pylist()[[r["result"] for r in summary.to_pylist()].index("scorer.accuracy")]
    assert row["mean"] == pytest.approx(acc.mean()) and row["std"] == pytest.approx(acc.std(ddof=1))
    assert eng.status["cv"].scalars["scorer.accuracy mean"] == pytest.approx(acc.mean())
    assert executing(events, "cv").count("cv/learner") == 3
    progress = [e["message"] for e in events if e.get("type") == "progress" and e.get("node") == "cv"]
    assert progress[:3] == ["fold 1 of 3", "fold 2 of 3", "fold 3 of 3"]
    # a new engine on the same workflow: every iteration has the same inputs and options -> inner cache hits
    eng2 = Engine(cv_workflow(dense_fold_body(epochs=1)))
    ev2: list[dict] = []
    eng2.subscribe(ev2.append)
    assert eng2.run().ok and executing(ev2, "cv") == []
    assert eng2.output("cv", "predictions").equals(preds)
    # determinism of repeated iterations: without the memo, each fold trains again to the same predictions
    memo_clear()
    eng3 = Engine(cv_workflow(dense_fold_body(epochs=1)))
    assert eng3.run().ok and eng3.output("cv", "predictions").equals(preds)


def test_changing_the_fold_seed_changes_the_folds():
    eng = Engine(cv_workflow(cheap_fold_body()))
    assert eng.run().ok
    a = eng.output("cv", "predictions")
    eng2 = Engine(cv_workflow(cheap_fold_body(), seed=6))
    assert eng2.run().ok
    b = eng2.output("cv", "predictions")
    assert a.num_rows == b.num_rows == 1797 and not a.equals(b)


def test_a_cancel_ends_after_the_current_fold_and_keeps_the_finished_ones():
    eng = Engine(cv_workflow(dense_fold_body(epochs=2), folds=4))
    seen: list[str] = []

    def on(ev):
        if ev.get("type") == "state" and ev.get("state") == "executing" and ev.get("node") == "cv/learner":
            seen.append(ev["node"])
            if len(seen) == 1:
                eng.cancel()  # during the first fold's training
    eng.subscribe(on)
    res = eng.run()
    st = eng.status["cv"]
    assert res.cancelled and st.partial and "kept" in st.message
    folds = eng.output("cv", "fold_results").column("fold").to_pylist()
    assert 1 <= len(folds) < 4 and folds == list(range(1, len(folds) + 1))
    assert sorted(set(eng.output("cv", "predictions").column("fold").to_pylist())) == folds
    assert len(seen) == len(folds)  # no fold was started after the cancel


@pytest.mark.parametrize("cfg, words", [
    ({"folds": 200}, "200 stratified folds need at least 200 rows of every class in 'class_name'; class"),
    ({"method": "leave_one_out"}, "leave-one-out runs the body once per row and is for small data"),
    ({"class_column": "nope"}, "nope"),
])
def test_bad_folds_are_one_sentence_on_the_node_before_any_fold_runs(cfg, words):
    eng = Engine(cv_workflow(cheap_fold_body(), **cfg))
    events: list[dict] = []
    eng.subscribe(events.append)
    res = eng.run()
    st = eng.status["cv"]
    assert not res.ok and words in st.message and "\n" not in st.message and "Traceback" not in st.message
    assert executing(events, "cv") == []


def test_a_loop_without_a_body_or_with_the_wrong_ports_is_refused_on_the_node():
    assert "there is no body" in Engine(outer(CV, {}, holder="cv")).configure()["cv"].message
    wrong = outer(CV, {"body": _renamed_body()}, holder="cv")
    msg = Engine(wrong).configure()["cv"].message
    assert "needs Component Inputs 'training' and 'held_out'" in msg and "it has held_out, train" in msg


def _renamed_body() -> dict:
    body = cheap_fold_body()
    for n in body["nodes"]:
        if n["config"].get("name") == "training":
            n["config"]["name"] = "train"
    return body
