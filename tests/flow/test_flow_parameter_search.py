"""Parameter Search (Optuna): grid / TPE trials over a body's options, best configuration, stored study, bad input."""
from __future__ import annotations

import pytest

pytest.importorskip("optuna")  # under CI=true a skip is a failure (tests/conftest.py)

from deepnodes.core import Engine  # noqa: E402
from deepnodes.core.component import memo_clear  # noqa: E402
from tests.flow.flow_bodies import executing, holdout_body, outer  # noqa: E402

PS = "deepnodes.flow.ParameterSearch"
LR = {"lr": {"option": "learner.learning_rate", "low": 0.0003, "high": 0.03, "log": True}}


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo_clear()


def search(**cfg):
    return outer(PS, {"body": holdout_body(), "objective": "scorer.accuracy", "space": LR, **cfg}, holder="search")


def test_a_grid_search_tries_every_point_and_reports_the_best():
    eng = Engine(search(strategy="grid", trials=10))
    res = eng.run()
    assert res.ok, eng.status["search"].message
    trials = eng.output("search", "trials").to_pylist()
    assert [float(t["lr"]) for t in trials] == pytest.approx([0.03, 0.003, 0.0003], rel=1e-6) or \
        sorted(float(t["lr"]) for t in trials) == pytest.approx([0.0003, 0.003, 0.03], rel=1e-6)
    assert all(t["state"] == "complete" and 0 <= t["objective"] <= 1 for t in trials)
    top = max(trials, key=lambda t: t["objective"])
    best = {r["parameter"]: r["value"] for r in eng.output("search", "best").to_pylist()}
    assert best["lr"] == top["lr"] and float(best["objective"]) == top["objective"]
    assert eng.status["search"].scalars["best objective"] == top["objective"]


@pytest.mark.parametrize("strategy", ["tpe", "grid"])
def test_a_stored_study_resumes_where_it_stopped(tmp_path, strategy):
    db = tmp_path / "study.db"
    eng = Engine(search(strategy=strategy, trials=2, study_file=str(db)))
    assert eng.run().ok and db.exists()
    first = eng.output("search", "trials").to_pylist()
    eng2 = Engine(search(strategy=strategy, trials=3, study_file=str(db)))
    events: list[dict] = []
    eng2.subscribe(events.append)
    assert eng2.run().ok
    again = eng2.output("search", "trials").to_pylist()
    assert len(again) == 3 and again[:2] == first  # the two stored trials kept, one more run
    assert executing(events, "search").count("search/learner") == 1  # a new point, not a repeat
    assert len({t["lr"] for t in again}) == 3


@pytest.mark.parametrize("cfg, words", [
    ({"space": {}}, "the search space is empty"),
    ({"objective": "nothere.accuracy"}, "option 'objective' is 'nothere.accuracy'"),
    ({"space": {"x": {"option": "learner.nope", "low": 1, "high": 2}}}, "node 'learner' has no option 'nope'"),
    ({"space": {"x": {"option": "learner.epochs", "kind": "int", "low": 3, "high": 1}}}, "needs low <= high"),
])
def test_bad_searches_are_one_sentence_on_the_node_before_anything_runs(cfg, words):
    st = Engine(search(**cfg)).configure()["search"]
    assert st.state == "idle" and words in st.message and "\n" not in st.message


def test_an_objective_that_names_no_scalar_is_one_sentence():
    eng = Engine(search(objective="scorer.nope", strategy="grid"))
    res = eng.run()
    msg = eng.status["search"].message
    assert not res.ok and "option 'objective' names no scalar" in msg and "scorer.accuracy" in msg


def test_pruning_stops_a_clearly_worse_trial_after_an_epoch():
    body = holdout_body()
    for n in body["nodes"]:
        if n["id"] == "learner":
            n["config"]["epochs"] = 4
    space = {"lr": {"option": "learner.learning_rate", "kind": "choice", "choices": [0.02, 0.00001]}}
    wf = outer(PS, {"body": body, "objective": "scorer.accuracy", "space": space, "strategy": "grid",
                    "seed": 1, "pruning": True, "prune_on": "learner.accuracy", "prune_startup_trials": 1,
                    "prune_warmup_epochs": 0}, holder="search")
    eng = Engine(wf)
    epochs: dict[int, int] = {}
    eng.subscribe(lambda ev: ev.get("type") == "metrics" and ev.get("kind") == "epoch"
                  and ev.get("node") == "search/learner" and epochs.update({len(epochs): ev["epoch"]}))
    res = eng.run()
    assert res.ok, eng.status["search"].message
    trials = {float(t["lr"]): t for t in eng.output("search", "trials").to_pylist()}
    # the grid's order is seeded (seed 1: 0.02 first); the pruner compares the second trial with the first
    assert trials[0.02]["state"] == "complete" and trials[0.00001]["state"] == "pruned"
    assert 4 < len(epochs) < 8  # the pruned trial did not train its 4 epochs
    best = {r["parameter"]: r["value"] for r in eng.output("search", "best").to_pylist()}
    assert float(best["lr"]) == 0.02
    assert "prune_on" in Engine(outer(PS, {"body": holdout_body(), "objective": "scorer.accuracy", "space": space,
                                          "pruning": True, "prune_on": "nope.accuracy"}, holder="search")
                                ).configure()["search"].message
