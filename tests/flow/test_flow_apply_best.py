"""Apply best: a Parameter Search's best configuration written into its body, a component or a node, from
Python and with `deepnodes apply-best` (the file replaced atomically; nothing changed when a value is refused)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("optuna")  # under CI=true a skip is a failure (tests/conftest.py)

from deepnodes.core import Engine, Workflow, WorkflowError, registry  # noqa: E402
from deepnodes.core.component import memo_clear  # noqa: E402
from deepnodes.nodes.flow.apply_best import apply_best  # noqa: E402
from tests.flow.flow_bodies import holdout_body, outer  # noqa: E402

PS = "deepnodes.flow.ParameterSearch"
SPACE = {"lr": {"option": "learner.learning_rate", "kind": "choice", "choices": [0.0003, 0.03]},
         "batch": {"option": "learner.batch_size", "kind": "choice", "choices": [64]}}


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo_clear()


def search_workflow() -> Workflow:
    wf = outer(PS, {"body": holdout_body(), "objective": "scorer.accuracy", "space": SPACE, "strategy": "grid",
                    "trials": 4}, holder="search")
    wf.add("deepnodes.dl.NetworkLearner", "final", {"epochs": 1})
    wf.add("deepnodes.flow.Component", "comp", {"body": holdout_body()})
    wf.connect("digits", "table", "comp", "table")
    return wf


def body_option(wf: Workflow, holder: str, node: str, option: str):
    body = wf.nodes[holder].config["body"]
    cfg = next(n for n in body["nodes"] if n["id"] == node)["config"]
    return cfg.get(option)


def test_the_best_configuration_goes_into_the_body_a_component_or_a_node():
    wf = search_workflow()
    eng = Engine(wf)
    assert eng.run(until="search").ok, eng.status["search"].message
    scalars = eng.status["search"].scalars
    trials = eng.output("search", "trials").to_pylist()
    best_lr = float(max(trials, key=lambda t: t["objective"])["lr"])
    assert apply_best(wf, "search", scalars) == [f"search/learner.learning_rate = {best_lr!r}",
                                                 "search/learner.batch_size = 64"]
    assert body_option(wf, "search", "learner", "learning_rate") == best_lr
    assert apply_best(wf, "search", scalars, to="comp")[0] == f"comp/learner.learning_rate = {best_lr!r}"
    assert body_option(wf, "comp", "learner", "learning_rate") == best_lr
    assert apply_best(wf, "search", scalars, to="final") == [f"final.learning_rate = {best_lr!r}",
                                                             "final.batch_size = 64"]
    assert wf.nodes["final"].config["learning_rate"] == best_lr
    # the search's body now holds the best values, so it is a new configuration: its key changes
    assert Engine(wf).configure()["search"].key != eng.status["search"].key


@settings(max_examples=25, deadline=None)
@given(lr=st.one_of(st.floats(-1.0, 2.0, allow_nan=False), st.text(max_size=4)), batch=st.integers(-5, 5000))
def test_a_value_is_applied_only_when_every_value_is_valid(lr, batch):
    wf = search_workflow()
    before = json.dumps(wf.to_json(), sort_keys=True)
    scalars = {"best lr": lr, "best batch": batch, "best objective": 0.5}
    for to in (None, "final"):
        try:
            apply_best(wf, "search", scalars, to=to)
        except WorkflowError as e:
            assert "cannot be applied" in str(e) and "\n" not in str(e)
            assert json.dumps(wf.to_json(), sort_keys=True) == before  # all or nothing
            continue
        holder = wf.nodes["final"].config if to else next(
            n for n in wf.nodes["search"].config["body"]["nodes"] if n["id"] == "learner")["config"]
        full = registry.get("deepnodes.dl.NetworkLearner").Config.model_validate(holder)  # a default is left out
        assert full.learning_rate == pytest.approx(float(lr)) and full.batch_size == batch
        wf = search_workflow()


def test_no_best_yet_or_not_a_search_is_one_sentence():
    wf = search_workflow()
    with pytest.raises(WorkflowError, match="has no best configuration yet"):
        apply_best(wf, "search", {})
    with pytest.raises(WorkflowError, match="is a NetworkLearner, not a Parameter Search"):
        apply_best(wf, "final", {})
    with pytest.raises(WorkflowError, match="there is no node 'nope'|no node 'nope'"):
        apply_best(wf, "nope", {})


def cli(*args, cwd):
    exe = Path(sys.executable).with_name("deepnodes")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.slow
def test_deepnodes_apply_best_writes_the_workflow_file(tmp_path):
    f = tmp_path / "search.json"
    search_workflow().save(f)
    assert cli("run", str(f), "--until", "search", "--save-results", "--quiet", cwd=tmp_path).returncode == 0
    original = f.read_bytes()
    dry = cli("apply-best", str(f), "--node", "search", "--dry-run", "--quiet", cwd=tmp_path)
    assert dry.returncode == 0 and "search/learner.learning_rate = " in dry.stdout and f.read_bytes() == original
    p = cli("apply-best", str(f), "--node", "search", "--to", "final", "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lr = float(p.stdout.splitlines()[0].split(" = ")[1])
    assert Workflow.load(f).nodes["final"].config["learning_rate"] == lr in (0.0003, 0.03)
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith(".search.json")) == []  # no temp left
    bad = cli("apply-best", str(f), "--node", "final", "--quiet", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == \
        "error: node 'final' is a NetworkLearner, not a Parameter Search" and "Traceback" not in bad.stderr
