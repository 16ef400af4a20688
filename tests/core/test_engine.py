import threading
import time

import pytest

from deepnodes.core import Engine, Workflow, WorkflowError
from tests.core import fake_nodes
from tests.core.fake_nodes import CALLS


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def chain(n: int) -> Workflow:
    wf = Workflow("chain")
    wf.add("test.Const", "n0", {"value": 1}, label="n0")
    for i in range(1, n):
        wf.add("test.Add", f"n{i}", {"plus": 1}, label=f"n{i}")
        wf.connect(f"n{i-1}", "out", f"n{i}", "a")
    return wf


def test_chain_runs_and_caches():
    wf = chain(5)
    eng = Engine(wf)
    res = eng.run()
    assert res.ok and eng.output("n4") == 5
    assert sum(CALLS.values()) == 5
    res = eng.run()
    assert res.ok and sum(CALLS.values()) == 5  # all cached


def test_config_change_invalidates_exactly_downstream():
    wf = chain(5)
    eng = Engine(wf)
    eng.run()
    CALLS.clear()
    wf.set_option("n2", "plus", 10)
    eng.run()
    assert set(CALLS) == {"n2", "n3", "n4"}
    assert eng.output("n4") == 14


def test_reset_invalidates_node_and_dependants():
    wf = chain(4)
    eng = Engine(wf)
    eng.run()
    eng.reset("n2")
    assert eng.status["n1"].state == "executed"
    assert eng.status["n2"].state == "configured" and eng.status["n3"].state == "configured"
    CALLS.clear()
    eng.run()
    assert set(CALLS) == {"n2", "n3"}


def test_run_until_runs_only_what_is_needed():
    wf = chain(4)
    eng = Engine(wf)
    res = eng.run(until="n1")
    assert res.ok and set(CALLS) == {"n0", "n1"}
    assert eng.status["n3"].state == "configured"


def test_failure_is_isolated():
    wf = Workflow()
    wf.add("test.Const", "c", {"value": 2})
    wf.add("test.Add", "bad", {"fail": True})
    wf.add("test.Add", "after_bad")
    wf.add("test.Add", "good", {"plus": 1})
    wf.connect("c", "out", "bad", "a")
    wf.connect("bad", "out", "after_bad", "a")
    wf.connect("c", "out", "good", "a")
    eng = Engine(wf)
    res = eng.run()
    assert not res.ok and res.failed == ["bad"]
    assert eng.status["bad"].state == "failed" and eng.status["bad"].message == "it was told to fail"
    assert eng.status["good"].state == "executed" and eng.output("good") == 3
    assert eng.status["after_bad"].state == "configured"
    assert "bad" in eng.status["after_bad"].message


def test_independent_branches_run_concurrently():
    wf = Workflow()
    wf.add("test.Const", "c")
    for b in ("x", "y"):
        wf.add("test.Add", b, {"sleep": 0.4})
        wf.connect("c", "out", b, "a")
    eng = Engine(wf, max_workers=2)
    t0 = time.perf_counter()
    assert eng.run().ok
    assert time.perf_counter() - t0 < 0.75  # two 0.4 s branches side by side


def test_cancel_stops_running_node_and_keeps_others():
    wf = Workflow()
    wf.add("test.Const", "c")
    wf.add("test.Add", "slow", {"sleep": 5})
    wf.connect("c", "out", "slow", "a")
    eng = Engine(wf)
    states = []
    eng.subscribe(lambda ev: states.append((ev.get("node"), ev.get("state"))) if ev["type"] == "state" else None)
    threading.Timer(0.3, eng.cancel).start()
    t0 = time.perf_counter()
    res = eng.run()
    assert time.perf_counter() - t0 < 2
    assert res.cancelled and not res.ok
    assert eng.status["c"].state == "executed"
    assert eng.status["slow"].state == "configured" and eng.status["slow"].message == "cancelled"
    assert ("slow", "executing") in states
    wf.set_option("slow", "sleep", 0)
    assert eng.run().ok  # re-runnable after a cancel


def test_events_report_states_in_order():
    wf = chain(2)
    eng = Engine(wf)
    seen = []
    eng.subscribe(lambda ev: seen.append(ev["state"]) if ev["type"] == "state" and ev["node"] == "n1" else None)
    eng.run()
    assert seen == ["configured", "queued", "executing", "executed"]


def test_unconnected_input_is_a_configure_error():
    wf = Workflow()
    wf.add("test.Add", "lonely")
    eng = Engine(wf)
    eng.configure()
    assert eng.status["lonely"].state == "idle"
    assert eng.status["lonely"].message == "input 'a' is not connected"


def test_save_and_reopen_results(tmp_path):
    """Results saved by one engine are reopened by a new one from the files alone: nothing runs again, the values
    and scalars are the saved ones, and a changed option re-runs exactly the node it changes and what follows."""
    wf = chain(3)
    eng = Engine(wf)
    eng.run()
    assert eng.status["n2"].scalars == {"sum": 3}
    folder = tmp_path / "wf.results"
    eng.save_results(folder)
    saved = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert "results.json" in saved and len(saved) > 1  # an index and the saved values
    del eng
    CALLS.clear()

    again = Engine(Workflow.loads(wf.dumps()))  # a new engine on the reloaded file: only the folder links them
    assert again.load_results(folder) == 3
    assert {n: s.state for n, s in again.configure().items()} == {"n0": "executed", "n1": "executed", "n2": "executed"}
    assert [again.output(n) for n in ("n0", "n1", "n2")] == [1, 2, 3] and again.status["n2"].scalars == {"sum": 3}
    res = again.run()
    assert res.ok and res.executed == [] and CALLS == {}
    again.workflow.set_option("n1", "plus", 10)
    res = again.run()
    assert sorted(res.executed) == ["n1", "n2"] and again.output("n2") == 12 and CALLS == {"n1": 1, "n2": 1}


def test_cycle_and_type_errors():
    wf = chain(3)
    with pytest.raises(WorkflowError, match="cycle"):
        wf.connect("n2", "out", "n1", "b")
    with pytest.raises(WorkflowError, match="no input port 'zz'"):
        wf.connect("n0", "out", "n1", "zz")
    with pytest.raises(WorkflowError, match="unknown node type 'test.Nope'"):
        wf.add("test.Nope")
    with pytest.raises(WorkflowError, match="node 'n1' has no option 'plsu'"):
        wf.set_option("n1", "plsu", 3)
    with pytest.raises(WorkflowError, match="node 'n1' option 'plus'"):
        wf.set_option("n1", "plus", "many")


def test_file_round_trip_is_stable(tmp_path):
    wf = chain(3)
    p = tmp_path / "wf.json"
    wf.save(p)
    text = p.read_text()
    wf2 = Workflow.load(p)
    assert wf2.dumps() == text
    assert '"format": "deepnodes.workflow/1"' in text


def test_bad_files(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(WorkflowError, match="not valid JSON"):
        Workflow.load(p)
    p.write_text('{"format": "deepnodes.workflow/9", "nodes": []}')
    with pytest.raises(WorkflowError, match="newer"):
        Workflow.load(p)
    p.write_text('{"format": "deepnodes.workflow/1", "nodes": [{"id": "a", "type": "test.Const"}, {"id": "b", "type": "test.Add"}],'
                 '"connections": [{"source": "a", "source_port": "out", "target": "b", "target_port": "a"},'
                 '{"source": "b", "source_port": "out", "target": "a", "target_port": "x"}]}')
    with pytest.raises(WorkflowError):
        Workflow.load(p)
