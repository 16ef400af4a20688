"""Issue 17 section 6/7: every workflow file, however wrong, ends in a valid workflow or one clean sentence.

Property-based: workflows generated from the real registry's node types and their config schemas (structure and
values, mostly plausible, sometimes broken anywhere) go through the loader and `configure` (no execute). 2,000+
examples in the normal run. Then the fixed classes the issue names, through the CLI in a subprocess.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from deepnodes.core import Workflow, WorkflowError
from deepnodes.core.workflow_file import MAX_DEPTH
from tests.core.trust_strategies import chain_data, check_sentence, configure_is_clean, examples, workflow_data

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=examples(1200), deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(workflow_data())
def test_a_generated_workflow_loads_or_gives_one_sentence(data):
    try:
        wf = Workflow.from_json(data)
    except WorkflowError as e:
        check_sentence(str(e), "loader")
        return
    again = Workflow.loads(wf.dumps())  # what loads, saves and reloads to the same workflow
    assert again.to_json() == wf.to_json()


@settings(FUZZ, max_examples=examples(900))
@given(workflow_data() | chain_data() | chain_data())
def test_a_generated_valid_workflow_configures_with_sentences_on_the_nodes(data):
    try:
        wf = Workflow.from_json(data)
    except WorkflowError:
        return
    assert configure_is_clean(wf) == [], json.dumps(data)[:3000]


@settings(FUZZ, max_examples=examples(300))
@given(workflow_data())
def test_the_text_of_a_generated_file_loads_or_gives_one_sentence(data):
    """The same through the text path: JSON as a file holds it, with non-finite floats written as NaN / Infinity."""
    text = json.dumps(data)
    try:
        Workflow.loads(text)
    except WorkflowError as e:
        check_sentence(str(e), "loads")


EXAMPLE_NODE = {"id": "a", "type": "deepnodes.data.RowSampling"}


def _file(**over):
    return {"format": "deepnodes.workflow/1", "name": "w", "nodes": [dict(EXAMPLE_NODE)], "connections": [], **over}


CASES = {
    "invalid UTF-8": (b'{"format": "deepnodes.workflow/1", "name": "\xff\xfe"}', "is not UTF-8 text: byte 44"),
    "deeply nested": (("[" * 100_000 + "]" * 100_000).encode(), f"nests JSON deeper than {MAX_DEPTH} levels"),
    "nested just over the limit": (('{"format": "deepnodes.workflow/1", "nodes": [], "connections": [], "x": '
                                    + "[" * 70 + "]" * 70 + "}").encode(), "nests JSON deeper than 64 levels"),
    "a list for an id": (json.dumps(_file(nodes=[dict(EXAMPLE_NODE, id=["a"])])).encode(),
                         "node entry 0, key 'id': input should be a valid string; it is [\"a\"]"),
    "a number for a label": (json.dumps(_file(nodes=[dict(EXAMPLE_NODE, label=5)])).encode(),
                             "node entry 0 ('a'), key 'label': input should be a valid string; it is 5"),
    "a string for a position": (json.dumps(_file(nodes=[dict(EXAMPLE_NODE, position="ab")])).encode(),
                                "node entry 0 ('a'), key 'position': input should be a valid list; it is \"ab\""),
    "NaN in a position": (json.dumps(_file(nodes=[dict(EXAMPLE_NODE, position=[float("nan"), 0])])).encode(),
                          "holds NaN, which is not a JSON number"),
    "true in a position": (json.dumps(_file(nodes=[dict(EXAMPLE_NODE, position=[True, 0])])).encode(),
                           "key 'position' item 0: input should be a valid number; it is true"),
    "duplicate ids": (json.dumps(_file(nodes=[EXAMPLE_NODE, EXAMPLE_NODE])).encode(), "node id 'a' is used twice"),
    "a list for the nodes": (json.dumps(_file(nodes={"a": 1})).encode(),
                             "the workflow file, key 'nodes': input should be a valid list"),
    "a list for a connection": (json.dumps(_file(connections=[[1, 2]])).encode(),
                                "connection 0: input should be a valid dictionary; it is [1, 2]"),
    "a list for a port": (json.dumps(_file(connections=[{"source": "a", "source_port": ["t"], "target": "a",
                                                         "target_port": 0}])).encode(),
                          "connection 0, key 'source_port': a port is given by its name or its number"),
    "an unknown key": (json.dumps(_file(nodes=[dict(EXAMPLE_NODE, colour="red")])).encode(),
                       "node entry 0 ('a'), key 'colour' is not part of the workflow format"),
    "true for a number option": (json.dumps(_file(nodes=[dict(EXAMPLE_NODE, config={"fraction": True})])).encode(),
                                 "node 'a' option 'fraction': input should be a valid number; it is true"),
    "a long unknown type": (json.dumps(_file(nodes=[dict(EXAMPLE_NODE, type="x" * 450)])).encode(),
                            "node 'a': unknown node type 'xxxx"),
}


def _run_cli(*args, timeout=60):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "deepnodes.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_workflow_file_exits_2_with_one_sentence(tmp_path, name):
    content, expected = CASES[name]
    p = tmp_path / "w.json"
    p.write_bytes(content)
    with pytest.raises(WorkflowError) as e:
        Workflow.load(p)
    assert expected in str(e.value)
    check_sentence(str(e.value), name)
    assert len(str(e.value)) < 500  # echoed values are cut to 200 characters


@pytest.mark.parametrize("target", ["folder", "/dev/zero", "missing"])
def test_a_folder_dev_zero_or_a_missing_file_is_one_sentence_through_the_cli(tmp_path, target):
    path = {"folder": str(tmp_path), "/dev/zero": "/dev/zero", "missing": str(tmp_path / "nope.json")}[target]
    r = _run_cli("run", path, "--quiet")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert {"folder": "is a folder, not a workflow file", "/dev/zero": "is larger than 32 MiB",
            "missing": "there is no workflow file"}[target] in lines[0]


def test_the_cli_gives_one_sentence_and_exit_2_for_a_deeply_nested_file(tmp_path):
    p = tmp_path / "deep.json"
    p.write_bytes(CASES["deeply nested"][0])
    r = _run_cli("run", str(p), "--quiet")
    assert (r.returncode, r.stderr.strip()) == (2, f"error: the workflow file nests JSON deeper than {MAX_DEPTH} levels")


def _minimal(tmp_path) -> Path:
    p = tmp_path / "w.json"
    p.write_text(json.dumps(_file(nodes=[{"id": "a", "type": "test.Const"}])))
    return p


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_a_report_path_that_cannot_be_written_is_refused_before_the_run(tmp_path, capsys, where):
    from deepnodes import cli
    from tests.core import fake_nodes  # noqa: F401 - registers test.Const
    from tests.core.fake_nodes import CALLS

    CALLS.clear()
    report = tmp_path / "nope" / "r.json" if where == "missing folder" else tmp_path
    code = cli.main(["run", str(_minimal(tmp_path)), "--quiet", "--report", str(report)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: --report: ") and len(err.splitlines()) == 1, err
    assert CALLS == {}  # nothing ran


def test_an_unexpected_error_in_the_cli_is_one_line_without_debug_and_a_traceback_with_it(monkeypatch, capsys,
                                                                                         tmp_path):
    from deepnodes import cli

    def broken(args):
        raise KeyError("boom")
    monkeypatch.setattr(cli, "cmd_run", broken)
    assert cli.main(["run", str(_minimal(tmp_path))]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: KeyError: 'boom' (this is a bug in DeepNodes; --debug shows where)"
    with pytest.raises(KeyError):
        cli.main(["run", str(_minimal(tmp_path)), "--debug"])


@pytest.mark.parametrize("command", ["nodes --json", "nodes", "describe deepnodes.dl.NetworkLearner"])
def test_output_piped_into_head_ends_quietly(command):
    r = subprocess.run(f"{sys.executable} -m deepnodes.cli {command} | head -c 20", shell=True, capture_output=True,
                       text=True, timeout=60, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.stderr == "" and len(r.stdout) == 20, r.stderr[-500:]
