"""Parameter Search on Ray Tune (backend: ray): parallel trials on a real local Ray (the shared `ray_local`
fixture), ASHA pruning from the learner's epochs, the same tables as the local backend, errors in a sentence."""
from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

pytest.importorskip("optuna")
pytest.importorskip("ray")  # under CI=true a skip is a failure (tests/conftest.py)

from deepnodes.core import Engine  # noqa: E402
from deepnodes.core.component import memo_clear  # noqa: E402
from tests.flow.flow_bodies import IN, OUT, build, holdout_body, outer  # noqa: E402

PS = "deepnodes.flow.ParameterSearch"
GOOD, BAD = 0.02, 1e-7  # after one epoch on digits: ~0.8 accuracy against chance


def body(epochs: int = 1, **learner) -> dict:
    b = holdout_body()
    for n in b["nodes"]:
        if n["id"] == "learner":
            n["config"].update(epochs=epochs, **learner)
    return b


def search(backend: str, **cfg) -> Engine:
    memo_clear()
    config = {"body": body(), "objective": "scorer.accuracy", "strategy": "grid", "seed": 1,
              "space": {"lr": {"option": "learner.learning_rate", "kind": "choice", "choices": [GOOD, BAD]}},
              "backend": backend, **({"max_concurrent": 2} if backend == "ray" else {}), **cfg}
    return Engine(outer(PS, config, holder="search"))


# seed 1 orders this grid as trials [BAD / 2, GOOD, GOOD * 1.5, BAD]; after epoch 1 the good ones score ~0.55 and
# ~0.62, the bad ones ~0.13. Two run at a time, so the last trial (bad) reaches ASHA's first rung after two others
# have finished it, at least one of them good: it is always pruned, whatever the timing. The second good one
# scores above the first, so no timing lets ASHA cut a good trial.
SPACE4 = {"lr": {"option": "learner.learning_rate", "kind": "choice", "choices": [GOOD * 1.5, BAD, GOOD, BAD / 2]}}


@pytest.fixture(scope="module")
def asha_run(ray_local):
    """4 trials of 2 epochs, 2 at a time, over a grid of two good and two bad learning rates."""
    eng = search("ray", body=body(epochs=2), space=SPACE4, pruning=True, prune_on="learner.accuracy",
                 prune_warmup_epochs=1, trials=4)
    events: list[dict] = []
    eng.subscribe(events.append)
    res = eng.run()
    return eng, res, events


@pytest.mark.slow
def test_a_ray_tune_search_with_asha_prunes_the_clearly_bad_trials(asha_run):
    eng, res, events = asha_run
    assert res.ok, eng.status["search"].message
    trials = eng.output("search", "trials").to_pylist()
    assert len(trials) == 4 and sorted(t["trial"] for t in trials) == [0, 1, 2, 3]
    assert [float(t["lr"]) for t in trials] == [BAD / 2, GOOD, GOOD * 1.5, BAD]
    states = {float(t["lr"]): t["state"] for t in trials}
    assert states[BAD] == "pruned" and states[GOOD] == states[GOOD * 1.5] == "complete", \
        [{k: v for k, v in t.items() if k in ("lr", "state", "objective", "message", "error")} for t in trials]
    best = {r["parameter"]: r["value"] for r in eng.output("search", "best").to_pylist()}
    assert float(best["lr"]) in (GOOD, GOOD * 1.5) and float(best["objective"]) > 0.5
    # the learner's epochs came back to the node's event stream as search/learner, as locally
    epochs = [e for e in events if e.get("type") == "metrics" and e.get("node") == "search/learner"
              and e.get("kind") == "epoch"]
    assert len(epochs) >= 2 * 2 + 1 and all("accuracy" in e["values"] for e in epochs)
    assert len(epochs) < 4 * 2  # a pruned trial did not train its 2 epochs
    logs = [e["line"] for e in events if e.get("type") == "log" and e.get("node") == "search"]
    assert sum("pruned" in ln for ln in logs) == sum(s == "pruned" for s in states.values())


@pytest.mark.slow
def test_the_tables_look_exactly_as_with_the_local_backend(asha_run):
    eng, _, _ = asha_run
    local = search("local", body=body(epochs=2), space=SPACE4, pruning=True, prune_on="learner.accuracy",
                   prune_warmup_epochs=1, trials=4)
    assert local.run().ok, local.status["search"].message
    for port in ("trials", "best"):
        assert eng.output("search", port).schema == local.output("search", port).schema
    a, b = eng.output("search", "trials").to_pylist(), local.output("search", "trials").to_pylist()
    # the same seeded sampler on the same space: the same points in the same order, and where both backends
    # finished a trial, the same (deterministic) objective; only who prunes (ASHA or the median) differs
    assert [(t["trial"], t["lr"]) for t in a] == [(t["trial"], t["lr"]) for t in b]
    both = [(x["objective"], y["objective"]) for x, y in zip(a, b) if x["state"] == y["state"] == "complete"]
    assert both and all(x == pytest.approx(y, abs=1e-6) for x, y in both)


@pytest.mark.slow
def test_a_cancel_stops_the_tune_run_and_keeps_the_finished_trials(ray_local, tmp_path):
    db = str(tmp_path / "study.db")
    eng = search("ray", body=body(epochs=3), space=SPACE4, trials=4, max_concurrent=1, study_file=db)

    def cancel_after_the_first_trial(ev):
        if ev.get("type") == "log" and ev.get("node") == "search" and ev["line"].startswith("trial 1:"):
            eng.cancel()
    eng.subscribe(cancel_after_the_first_trial)
    res = eng.run()
    st = eng.status["search"]
    assert res.cancelled and st.partial, st.message
    trials = eng.output("search", "trials").to_pylist()
    assert trials[0]["state"] == "complete" and trials[0]["objective"] is not None
    assert len(trials) < 4 and all(t["state"] in ("fail", "complete") for t in trials[1:]), trials
    # the stored study goes on where the cancel left it, on either backend: the finished trial is not run again
    again = search("local", body=body(epochs=3), space=SPACE4, trials=len(trials) + 1, study_file=db)
    assert again.run().ok, again.status["search"].message
    resumed = again.output("search", "trials").to_pylist()
    assert resumed[0] == trials[0] and resumed[-1]["state"] == "complete"
    assert len({t["lr"] for t in resumed if t["state"] == "complete"}) == len(
        [t for t in resumed if t["state"] == "complete"])  # no grid point twice


@pytest.mark.slow
def test_a_body_error_is_one_sentence_naming_the_trial_and_the_node(ray_local):
    failing = build([("in", IN, {"name": "table"}),
                     ("script", "deepnodes.python.PythonScript", {"script": "output_table = input_table.x / 0"}),
                     ("out", OUT, {"name": "scores"})],
                    [("in", "value", "script", "table"), ("script", "table", "out", "value")])
    eng = search("ray", body=failing, objective="script.accuracy", trials=1,
                 space={"api": {"option": "script.table_api", "kind": "choice", "choices": ["pyarrow"]}})
    res = eng.run()
    msg = eng.status["search"].message
    assert not res.ok and msg.startswith("trial 1 (api=pyarrow): inside the body, node 'script' failed")
    assert "\n" not in msg and "Traceback" not in msg, msg


def test_without_ray_the_sentence_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    st = search("ray").configure()["search"]
    assert st.state == "idle" and "pip install \"deepnodes[ray]\"" in st.message and "'backend'" in st.message


def test_a_bad_address_is_one_sentence_before_anything_runs():
    st = search("ray", address="http://head").configure()["search"]
    assert st.state == "idle" and "option 'address' must be empty" in st.message and "\n" not in st.message


_cells = hst.one_of(hst.integers(-2 ** 62, 2 ** 62), hst.floats(allow_nan=False), hst.text(max_size=8), hst.none())


@settings(max_examples=25)
@given(hst.lists(hst.tuples(hst.sampled_from(["a", "b", "c", "d"]), hst.lists(_cells, min_size=3, max_size=3)),
                min_size=1, max_size=4, unique_by=lambda c: c[0]))
def test_inputs_travel_to_a_worker_as_their_port_files_and_arrive_equal(tmp_path_factory, columns):
    """Any table (mixed types, nulls, empty strings) arrives in the worker as it left, with its key."""
    import pyarrow as pa

    from deepnodes.core.ports import In
    from deepnodes.flow.ray_tune import pack_inputs, unpack_inputs

    cols = {}
    for name, cells in columns:
        try:
            cols[name] = pa.array(cells)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            cols[name] = pa.array([None if c is None else str(c) for c in cells])
    table = pa.table(cols)
    packed = pack_inputs([In("table"), In("other", optional=True)], [table, None], {"table": "k1"})
    feeds = unpack_inputs(packed, str(tmp_path_factory.mktemp("worker")))
    spec, key, got = feeds["table"]
    assert got.equals(table) and key == "k1" and spec is not None
    assert feeds["other"] == (None, "-", None)


def test_a_network_input_travels_as_its_network_file(tmp_path):
    import torch

    from deepnodes.core import Workflow
    from deepnodes.core.ports import In
    from deepnodes.flow.ray_tune import pack_inputs, unpack_inputs

    wf = Workflow("net")
    wf.add("deepnodes.layers.Input", "input", {"shape": [4], "name": "x"})
    wf.add("deepnodes.layers.Dense", "dense", {"units": 3})
    wf.connect("input", "network", "dense", "input")
    eng = Engine(wf)
    assert eng.run().ok
    net = eng.output("dense", "network")
    (_, _, got), = unpack_inputs(pack_inputs([In("net", "network")], [net], {}), str(tmp_path)).values()
    x = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(got.module(x), net.module(x)))
    assert got.spec == net.spec
