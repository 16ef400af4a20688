"""`deepnodes serve-workflow` refuses what it cannot serve with one sentence and exit code 2, before binding."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from service_http_util import CLI, ENV, free_port  # noqa: E402


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["serve-workflow", *args, "--port", str(free_port())], env=ENV, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def plain_workflow(tmp_path):
    from deepnodes.core import Workflow, registry

    registry.discover()
    wf = Workflow("no service")
    wf.add("deepnodes.data.DatasetReader", "train", {"dataset": "digits"})
    path = tmp_path / "plain.json"
    wf.save(path)
    return path


@pytest.mark.parametrize("args,words", [
    (["missing.json"], "there is no workflow file 'missing.json'"),
    (["WF", "--host", "0.0.0.0"], "choose --token TOKEN"),
    (["WF", "--token", " "], "--token must not be empty"),
    (["WF", "--workers", "0"], "--workers 0 must be between 1 and 64"),
    (["WF"], "needs exactly one Service Input node; 'no service' has none"),
])
def test_refusals_are_one_sentence(plain_workflow, args, words):
    r = serve(*[str(plain_workflow) if a == "WF" else a for a in args])
    assert r.returncode == 2, r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
