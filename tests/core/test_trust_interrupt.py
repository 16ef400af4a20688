"""Ctrl-C in `deepnodes run`, for real: a subprocess gets SIGINT. The first cancels within a batch, keeps the
last complete model and every finished node's results (saved with --save-results), says so and exits 130;
a second one exits at once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from deepnodes.core import Engine, Workflow
from deepnodes.core.results import read_index
from tests.conftest import ROOT
from tests.dl.dl_workflows import image_classification


class Run:
    """`deepnodes run` in a subprocess whose stderr is read line by line as it comes."""

    def __init__(self, wf_file: Path, *extra: str):
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "deepnodes.cli", "run", str(wf_file), *extra], cwd=ROOT,
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, limit: float = 240) -> None:
        t0 = time.monotonic()
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, f"ended before '{text}':\n" + "\n".join(self.lines)
            assert time.monotonic() - t0 < limit, f"no '{text}' in {limit} s:\n" + "\n".join(self.lines)
            time.sleep(0.02)

    def wait(self, limit: float = 120) -> int:
        rc = self.proc.wait(limit)
        self._reader.join(10)
        return rc

    @property
    def err(self) -> str:
        return "\n".join(self.lines)


@pytest.mark.slow
def test_first_ctrl_c_cancels_within_a_batch_keeps_and_saves_what_is_complete(tmp_path):
    wf = image_classification(train={"limit": 1200}, test={"limit": 200},
                              learner={"epochs": 200, "batch_size": 100, "metrics_interval": 0})
    wf_file = tmp_path / "wf.json"
    wf.save(wf_file)
    run = Run(wf_file, "--save-results")
    run.wait_for("learner: epoch 2 ")  # the plain display's line for an epoch
    run.proc.send_signal(signal.SIGINT)
    assert run.wait() == 130, run.err
    assert "cancelling" in run.err and "Traceback" not in run.err
    kept = [line for line in run.lines if line.startswith("cancelled: kept")]
    assert kept and "train_tensor" in kept[0] and "learner" in kept[0] and "saved in" in kept[0], run.err
    # the saved results hold every finished node and the learner's last complete model, marked partial
    idx = read_index(tmp_path / "wf.results")
    assert {"train_data", "train_tensor", "input", "dense", "learner"} <= set(idx.nodes)
    assert idx.nodes["learner"]["partial"] and not idx.nodes["train_tensor"]["partial"]
    eng = Engine(Workflow.load(wf_file))
    eng.load_results(tmp_path / "wf.results")
    st = eng.status["learner"]
    assert st.partial and st.state == "configured"  # reopened, viewable, run again next time
    epochs = st.outputs[1].column("epoch").to_pylist()
    assert epochs[:2] == [1, 2] and len(epochs) <= 4  # cancelled within the epoch after the signal (or the next)
    assert st.outputs[0].metadata["trained"]
    assert eng.status["train_tensor"].state == "executed"


def test_second_ctrl_c_exits_at_once(tmp_path):
    wf = Workflow()
    wf.add("deepnodes.python.PythonScript", "stubborn", {
        "script": "import time\nprint('sleeping', flush=True)\ntime.sleep(120)  # never checks for cancellation\n"
                  "output_table = input_table\n"})
    wf_file = tmp_path / "wf.json"
    wf.save(wf_file)
    run = Run(wf_file)
    run.wait_for("stubborn: executing")
    time.sleep(0.5)
    run.proc.send_signal(signal.SIGINT)
    run.wait_for("cancelling")
    assert run.proc.poll() is None  # the node does not check: the first Ctrl-C waits for it
    run.proc.send_signal(signal.SIGINT)
    assert run.wait(30) == 130
    assert "exiting now" in run.err and "Traceback" not in run.err


def test_ctrl_c_in_a_python_session_cancels_the_running_nodes():
    """KeyboardInterrupt in `engine.run()` (a notebook's interrupt) stops the nodes at their next check."""
    from tests.core import fake_nodes  # noqa: F401 - registers test.Const / test.Add

    wf = Workflow()
    wf.add("test.Const", "c")
    wf.add("test.Add", "slow", {"sleep": 120})
    wf.connect("c", "out", "slow", "a")
    eng = Engine(wf)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    t0 = time.monotonic()
    try:
        eng.run()
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interrupt did not reach the caller")
    assert time.monotonic() - t0 < 60  # not the node's full 120 s
    assert eng.status["slow"].state == "configured" and eng.status["slow"].message == "cancelled"
    assert eng.status["c"].state == "executed" and not eng.running
