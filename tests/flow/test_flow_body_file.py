"""A relative `body_file` is read from the workflow file's folder, not the current folder: from Python, the CLI,
a nested component file, a loop that loads its body again in the engine's threads, and an edited copy."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deepnodes.core import Engine, Workflow, WorkflowError
from deepnodes.core.component import memo_clear
from deepnodes.core.workflow_file import relative_to
from tests.flow.flow_bodies import IN, OUT, build, outer, sampling_body

COMP = "deepnodes.flow.Component"


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo_clear()


def project(tmp_path: Path) -> Path:
    """wf/main.json uses parts/outer.json, which uses inner.json beside it (relative to parts/)."""
    parts = tmp_path / "wf" / "parts"
    parts.mkdir(parents=True)
    (parts / "inner.json").write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "inner", **sampling_body()}))
    with relative_to(parts):  # building it here reads inner.json as loading will
        nested = build([("in", IN, {"name": "table"}), ("c", COMP, {"body_file": "inner.json"}),
                        ("out", OUT, {"name": "sample"})],
                       [("in", "value", "c", "table"), ("c", "sample", "out", "value")])
    (parts / "outer.json").write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "outer", **nested}))
    wf = outer(COMP, {"body_file": str(parts / "outer.json")})  # built with an absolute name, saved relative
    data = wf.to_json()
    data["nodes"][1]["config"]["body_file"] = "parts/outer.json"
    main = tmp_path / "wf" / "main.json"
    main.write_text(json.dumps(data))
    return main


def test_python_reads_relative_body_files_from_the_workflow_folder(tmp_path, monkeypatch):
    main = project(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    wf = Workflow.load(main)  # connecting to the component's ports reads its body file already
    eng = Engine(wf)
    res = eng.run()
    assert res.ok, eng.status["comp"].message
    assert 0 < eng.output("comp", "sample").num_rows < 1797
    assert set(eng.output("comp", "sample").column("label").to_pylist()) <= {0, 1, 2, 3, 4}
    # an edited copy (the editor's server builds one per edit) keeps the folder
    copy = Workflow.from_json(wf.to_json(), wf.folder)
    assert Engine(copy).configure()["comp"].state == "configured"
    # without the folder, the same relative name is looked for in the current folder: one sentence
    with pytest.raises(WorkflowError, match="parts/outer.json"):
        Workflow.from_json(wf.to_json())


def test_the_cli_runs_a_workflow_with_relative_body_files_from_another_folder(tmp_path):
    main = project(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    exe = Path(sys.executable).with_name("deepnodes")
    p = subprocess.run([str(exe), "run", str(main), "--quiet"], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path / "elsewhere")
    assert p.returncode == 0, p.stderr


def test_a_loop_loading_its_body_in_the_engine_threads_reads_it_from_the_workflow_folder(tmp_path, monkeypatch):
    folder = tmp_path / "wf"
    (folder / "files").mkdir(parents=True)
    for name in ("a.csv", "b.csv"):
        (folder / "files" / name).write_text("label\n1\n7\n")
    body = build([("reader", "deepnodes.data.CSVReader", {"path": "placeholder.csv"}),
                  ("out", OUT, {"name": "rows"})], [("reader", "table", "out", "value")])
    (folder / "body.json").write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "b", **body}))
    wf = Workflow("loop")
    wf.add("deepnodes.flow.FolderLoop", "loop", {"body_file": "body.json", "path": str(folder / "files"),
                                                 "file_option": "reader.path"})
    wf.save(folder / "loop.json")
    monkeypatch.chdir(tmp_path)
    eng = Engine(Workflow.load(folder / "loop.json"))
    assert eng.run().ok, eng.status["loop"].message
    assert eng.output("loop", "rows").column("label").to_pylist() == [1, 7, 1, 7]
