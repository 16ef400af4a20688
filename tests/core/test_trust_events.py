"""A run never hangs on its own event stream.

Subscribers run on the engine's one dispatcher thread: never inside a node's print capture, never two at a
time, never re-entered. Tested with nodes that print (captured into their log, as Python nodes are), log and
emit metrics from several threads at once, with subscribers that print and hold a lock, under a timeout;
then every example workflow through the CLI with its output piped."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from pydantic import Field

from deepnodes.core import Engine, In, Node, NodeConfig, Out, Workflow, node, registry
from deepnodes.progress import LiveDisplay
from deepnodes.scripting import capture_output
from tests.conftest import MNIST_DIR, ROOT
from tests.core import fake_nodes

LIMIT = 60  # seconds: a run that takes longer than this has hung


@node("test.trust.Chatty", name="Chatty", category="Test")
class Chatty(Node):
    """Prints, logs and emits metrics from several threads at once, its prints captured like a Python node's."""
    inputs = [In("a", "number", optional=True)]
    outputs = [Out("out", "number")]

    class Config(NodeConfig):
        threads: int = 3
        events: int = Field(60, description="events per thread and kind")

    def configure(self, specs):
        return [fake_nodes.NumSpec()]

    def execute(self, inputs, ctx):
        def work(k: int) -> None:
            with capture_output(lambda line, level: ctx.log(line, level)):
                for i in range(self.config.events):
                    print(f"{ctx.node_id} thread {k} line {i}")
                    ctx.log(f"log {k}.{i}")
                    ctx.metrics({"loss": 1 / (i + 1)}, step=i, kind="batch")
                    ctx.metrics({"loss": 1 / (i + 1)}, epoch=i, kind="epoch")
                    ctx.progress(i / self.config.events, f"{k}.{i}")

        threads = [threading.Thread(target=work, args=(k,)) for k in range(self.config.threads - 1)]
        for t in threads:
            t.start()
        work(self.config.threads - 1)  # the node's own thread too
        for t in threads:
            t.join()
        return [float(inputs[0] or 0) + 1]


@node("test.trust.Warns", name="Warns", category="Test")
class Warns(Node):
    """Raises a library-style Python warning, twice, then returns."""
    outputs = [Out("out", "number")]

    def configure(self, specs):
        warnings.warn("tracing a model at configure time", DeprecationWarning, stacklevel=1)
        return [fake_nodes.NumSpec()]

    def execute(self, inputs, ctx):
        for _ in range(2):
            warnings.warn("Constant folding - Only steps=1 can be constant folded", UserWarning, stacklevel=1)
        return [1.0]


def chatty_workflow(n: int = 4) -> Workflow:
    wf = Workflow()
    for i in range(n):  # independent branches: they run side by side
        wf.add("test.trust.Chatty", f"c{i}")
    wf.add("test.trust.Chatty", "last", {"threads": 2, "events": 20})
    wf.connect("c0", "out", "last", "a")
    return wf


def run_within(eng: Engine, limit: float = LIMIT):
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("result", eng.run()), daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"the run hung (still running after {limit} s)"
    return box["result"]


def test_printing_subscribers_under_node_capture_never_hang_or_recurse(capfd):
    eng = Engine(chatty_workflow(), max_workers=4)
    lock = threading.Lock()  # a subscriber holding its own lock, like the CLI's display
    seen: list[dict] = []
    depth = [0, 0]  # current, max
    threads: set[str] = set()

    def printing(ev: dict) -> None:
        with lock:
            depth[0] += 1
            depth[1] = max(depth)
            threads.add(threading.current_thread().name)
            seen.append(ev)
            if ev["type"] in ("metrics", "log"):
                print(f"subscriber saw {ev['type']} of {ev.get('node')}", file=sys.stderr)
                print(f"subscriber saw {ev['type']} of {ev.get('node')}")
            depth[0] -= 1

    eng.subscribe(printing)
    with LiveDisplay(eng):  # the real plain display (not a terminal here), as `deepnodes run | cat` has it
        res = run_within(eng)
    assert res.ok
    assert depth[1] == 1  # never re-entered
    assert threads == {"deepnodes-events"}  # the dispatcher, never a node's worker thread
    logs = [e for e in seen if e["type"] == "log"]
    # every captured print became exactly one log event of its node; no subscriber line was captured
    printed = [e for e in logs if " thread " in e["line"]]
    assert len(printed) == 4 * 3 * 60 + 2 * 20
    assert not [e for e in logs if e["line"].startswith("subscriber saw")]
    for nid in ("c0", "c3", "last"):  # events of one thread arrive in the order they were emitted
        own = [int(e["line"].rsplit(" ", 1)[1]) for e in printed if e["node"] == nid and " thread 0 " in e["line"]]
        assert own == sorted(own) and len(own) == (20 if nid == "last" else 60)
    out = capfd.readouterr()
    assert "subscriber saw metrics of c1" in out.err and "c2: epoch" in out.err


def test_events_arrive_before_run_returns_and_subscribers_may_call_the_engine():
    eng = Engine(chatty_workflow(2), max_workers=2)
    states: list[tuple] = []

    def on(ev):
        if ev["type"] == "state":
            states.append((ev["node"], ev["state"]))
            eng.flush()  # from the dispatcher thread: returns at once instead of waiting on itself
            eng.request_stop("c0")
    eng.subscribe(on)
    assert run_within(eng).ok
    assert ("last", "executed") in states  # delivered before run() returned
    assert [s for n, s in states if n == "c1"][-2:] == ["executing", "executed"]


def test_a_subscriber_that_raises_or_is_slow_does_not_stop_the_run(capfd):
    eng = Engine(chatty_workflow(1))

    def broken(ev):
        raise RuntimeError("listener bug")

    count = []
    eng.subscribe(broken)
    eng.subscribe(lambda ev: (count.append(1), time.sleep(0.0005)))
    assert run_within(eng).ok
    assert len(count) > 200 and "listener bug" in capfd.readouterr().err


def test_library_warnings_go_to_the_node_log_once_not_the_screen(capfd):
    wf = Workflow()
    wf.add("test.trust.Warns", "w")
    eng = Engine(wf)
    logs = []
    eng.subscribe(lambda ev: logs.append(ev) if ev["type"] == "log" else None)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with LiveDisplay(eng):
            assert run_within(eng).ok
    lines = [e for e in logs if e["node"] == "w" and e["level"] == "warning"]
    assert [e["line"] for e in lines if "Constant" in e["line"]] == [
        "UserWarning: Constant folding - Only steps=1 can be constant folded"]  # once, though raised twice
    assert "DeprecationWarning: tracing a model at configure time" in [e["line"] for e in lines]
    assert all(e["library"] is True for e in lines)
    err = capfd.readouterr().err
    assert "Constant folding" not in err and "tracing a model" not in err
    with pytest.warns(UserWarning):  # outside a node, warnings behave as usual
        warnings.warn("outside", UserWarning)


# ---------------------------------------------------------------------------- every example, piped
def tiny_sets(wf: Workflow) -> list[str]:
    """`--set` options that make an example small: few rows, one epoch, short generated texts."""
    registry.discover()
    out = []
    for nid, e in wf.nodes.items():
        fields = registry.get(e.type).Config.model_fields
        if "limit" in fields and (e.config.get("limit") or 10**9) > 300:
            out.append(f"{nid}.limit=300")
        if "epochs" in fields:
            out.append(f"{nid}.epochs=1")
        if "n_estimators" in fields:
            out.append(f"{nid}.n_estimators=5")
        if "max_models" in fields:  # H2O AutoML: its first model only, no cross-validation
            out += [f"{nid}.max_models=1", f"{nid}.nfolds=0"]
        if e.type == "deepnodes.text.TextGenerator":
            out.append(f"{nid}.length=20")
        if e.config.get("dataset") == "mnist":  # offline here: the MNIST test files of the checkout, for both splits
            out += [f"{nid}.local_folder={MNIST_DIR}", f"{nid}.split=test"]
    return out


EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_runs_with_its_output_piped(example: Path, tmp_path):
    wf = Workflow.load(example)
    args = [a for s in tiny_sets(wf) for a in ("--set", s)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("TERM", None)
    try:
        p = subprocess.run([sys.executable, "-m", "deepnodes.cli", "run", str(example), *args,
                            "--report", str(tmp_path / "report.json")],
                           cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=600)  # a hang, not a slow example (H2O AutoML takes minutes here)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{example.name} hung with its output piped:\n{(e.stderr or b'')[-2000:]}")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Traceback" not in p.stderr
    assert not re.search(r"\.py:\d+: \w*Warning", p.stderr), p.stderr[-3000:]  # no raw Python warning
    assert (tmp_path / "report.json").exists()


def test_a_listener_failing_on_a_closed_stderr_does_not_stall_the_stream(monkeypatch):
    """`deepnodes run ... 2>&1 | head -1`: the display's print fails and so does printing its traceback."""
    class Closed:
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    eng = Engine(chatty_workflow(1))
    seen = []
    eng.subscribe(lambda ev: print("line", file=sys.stderr))
    eng.subscribe(seen.append)
    monkeypatch.setattr(sys, "stderr", Closed())
    res = run_within(eng, limit=30)
    monkeypatch.undo()
    assert res.ok and seen[-1]["type"] == "run" and seen[-1]["state"] == "finished"
