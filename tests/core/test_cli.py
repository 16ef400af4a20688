import json
import subprocess
import sys

import pytest

from deepnodes.cli import main
from tests.conftest import ROOT
from tests.core import fake_nodes  # noqa: F401  (registers the fake nodes)
from tests.core.fake_nodes import CALLS
from tests.core.test_engine import chain


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


@pytest.fixture
def wf_file(tmp_path):
    p = tmp_path / "wf.json"
    chain(3).save(p)
    return p


def test_run_ok_with_report(wf_file, tmp_path, capsys):
    rep = tmp_path / "rep.json"
    assert main(["run", str(wf_file), "--quiet", "--report", str(rep)]) == 0
    data = json.loads(rep.read_text())
    assert data["ok"] is True
    assert data["nodes"]["n2"]["state"] == "executed"
    assert data["nodes"]["n2"]["results"] == {"sum": 3}
    assert data["nodes"]["n2"]["seconds"] >= 0
    assert data["nodes"]["n2"]["outputs"] == {"out": {"value": 3}}


def test_set_overrides_an_option(wf_file, tmp_path):
    rep = tmp_path / "rep.json"
    assert main(["run", str(wf_file), "--quiet", "--set", "n1.plus=10", "--report", str(rep)]) == 0
    assert json.loads(rep.read_text())["nodes"]["n2"]["results"] == {"sum": 12}


@pytest.mark.parametrize("expr, msg", [
    ("nope.plus=1", "there is no node 'nope'"),
    ("n1.plsu=1", "node 'n1' has no option 'plsu'"),
    ("n1.plus=abc", "node 'n1' option 'plus'"),
    ("n1plus", "must look like NODE.OPTION=VALUE"),
])
def test_bad_set_exits_2(wf_file, capsys, expr, msg):
    assert main(["run", str(wf_file), "--quiet", "--set", expr]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1  # one sentence, no traceback


def test_failing_node_exits_1_and_names_it(wf_file, capsys):
    assert main(["run", str(wf_file), "--quiet", "--set", "n1.fail=true"]) == 1
    err = capsys.readouterr().err
    assert "node 'n1' (n1) failed: it was told to fail" in err
    assert "Traceback" not in err


def test_debug_shows_traceback(wf_file, capsys):
    assert main(["run", str(wf_file), "--quiet", "--debug", "--set", "n1.fail=true"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_invalid_files_exit_2(tmp_path, capsys):
    p = tmp_path / "x.json"
    p.write_text("not json at all")
    assert main(["run", str(p), "--quiet"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    p.write_text(json.dumps({"format": "deepnodes.workflow/1", "nodes": [{"id": "a", "type": "no.Such"}]}))
    assert main(["run", str(p), "--quiet"]) == 2
    assert "unknown node type 'no.Such'" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.json"), "--quiet"]) == 2


def test_until_runs_a_prefix(wf_file, tmp_path):
    rep = tmp_path / "rep.json"
    assert main(["run", str(wf_file), "--quiet", "--until", "n1", "--report", str(rep)]) == 0
    nodes = json.loads(rep.read_text())["nodes"]
    assert nodes["n1"]["state"] == "executed" and nodes["n2"]["state"] == "configured"
    assert set(CALLS) == {"n0", "n1"}


def test_save_results_are_reopened_without_rerunning(wf_file):
    assert main(["run", str(wf_file), "--quiet", "--save-results"]) == 0
    assert (wf_file.parent / "wf.results" / "results.json").exists()
    assert sum(CALLS.values()) == 3
    CALLS.clear()
    assert main(["run", str(wf_file), "--quiet", "--save-results"]) == 0
    assert CALLS == {}  # everything came from the saved results
    assert main(["run", str(wf_file), "--quiet", "--save-results", "--set", "n2.plus=5"]) == 0
    assert CALLS == {"n2": 1}  # only the changed node ran


def test_help_and_nodes_do_not_import_torch():
    code = ("import sys; from deepnodes.cli import main; from deepnodes.core import registry; registry.discover(); "
            "print('torch' in sys.modules, sorted(registry.IMPORT_ERRORS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    assert out == "False []"


def test_nodes_json_lists_schemas(capsys):
    assert main(["nodes", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    add = next(d for d in data if d["type"] == "test.Add")
    assert add["config_schema"]["properties"]["plus"]["type"] == "number"
    assert [p["name"] for p in add["inputs"]] == ["a", "b"]


def test_describe(capsys):
    assert main(["describe", "test.Const"]) == 0
    out = capsys.readouterr().out
    assert "value" in out and "the number" in out
    assert main(["describe", "test.Nope"]) == 2


def test_catalogue_is_cached_and_the_cached_path_imports_no_node_module(tmp_path):
    import os

    code = ("import sys; from deepnodes.catalogue import catalogue; c = catalogue(); "
            "print(len(c), 'pydantic' in sys.modules, any(d['type'] == 'deepnodes.data.CSVReader' for d in c))")
    env = {**os.environ, "DEEPNODES_CACHE": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env).stdout.split()
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env).stdout.split()
    assert first[1:] == ["True", "True"] and int(first[0]) >= 20
    assert second == [first[0], "False", "True"]
