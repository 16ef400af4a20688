"""Saved results are a transaction: no SIGBUS on a second save, a kill leaves the old or the new state, a
hostile results.json reads nothing outside its folder, an unsaveable port object costs only its own node."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepnodes.cli import main
from deepnodes.core import Engine, In, Node, NodeConfig, Out, Workflow, node
from deepnodes.core.ports import PortType, register_port_type
from deepnodes.core.results import GEN_RE, MARKER, ResultsError, read_index
from tests.conftest import ROOT
from tests.core import fake_nodes
from tests.core.test_engine import chain

NODES = ("read", "sample", "norm")


def write_parquet(path: Path, rows: int = 120_000) -> Path:
    rng = np.random.default_rng(7)
    pq.write_table(pa.table({f"c{i}": rng.normal(size=rows) for i in range(6)}), path)
    return path


def tables_workflow(data: Path, seed: int) -> Workflow:
    wf = Workflow(name="trust")
    wf.add("deepnodes.data.ParquetReader", "read", {"path": str(data)})
    wf.add("deepnodes.data.RowSampling", "sample", {"fraction": 0.5, "seed": seed})
    wf.add("deepnodes.data.Normalizer", "norm", {"columns": ["c0", "c1"], "method": "zscore"})
    wf.connect("read", "table", "sample", "table")
    wf.connect("sample", "table", "norm", "table")
    return wf


def tables_of(eng: Engine) -> dict[str, pa.Table]:
    return {n: eng.output(n, "table") for n in NODES}


@pytest.fixture
def data(tmp_path) -> Path:
    return write_parquet(tmp_path / "data.parquet")


def generations(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if GEN_RE.match(p.name))


def test_second_save_of_an_unchanged_workflow_keeps_every_table(tmp_path, data):
    wf_file = tmp_path / "wf.json"
    tables_workflow(data, 3).save(wf_file)
    for _ in range(3):  # the 2nd and 3rd runs reopen memory-mapped tables and save them again
        assert main(["run", str(wf_file), "--quiet", "--save-results"]) == 0
    folder = tmp_path / "wf.results"
    assert len(generations(folder)) == 1
    ref = Engine(tables_workflow(data, 3))
    assert ref.run().ok
    eng = Engine(Workflow.load(wf_file))
    assert eng.load_results(folder) == 3
    for n, t in tables_of(eng).items():
        assert t.equals(tables_of(ref)[n]), n


def test_reopened_tables_survive_a_new_save_into_their_folder(tmp_path, data):
    folder = tmp_path / "wf.results"
    first = Engine(tables_workflow(data, 1))
    assert first.run().ok
    first.save_results(folder)
    reopened = Engine(tables_workflow(data, 1))
    assert reopened.load_results(folder) == 3  # memory-mapped from the saved files
    before = {n: t.column("c0").to_numpy().copy() for n, t in tables_of(reopened).items()}
    reopened.save_results(folder)  # the editor's "save" of a reopened workflow
    other = Engine(tables_workflow(data, 2))
    assert other.run().ok
    other.save_results(folder)  # another writer replaces every table in the folder
    for n, t in tables_of(reopened).items():  # the mapped tables still read what they read before
        np.testing.assert_array_equal(t.column("c0").to_numpy(), before[n])
    again = Engine(tables_workflow(data, 2))
    assert again.load_results(folder) == 3
    for n, t in tables_of(again).items():
        assert t.equals(tables_of(other)[n])


def _cli(wf_file: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "deepnodes.cli", "run", str(wf_file), "--quiet", "--save-results",
                             *extra], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_new_generation(folder: Path, old: set[str], proc: subprocess.Popen, limit: float = 60) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if set(generations(folder)) - old:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.001)
    return False


@pytest.mark.slow
def test_sigkill_during_save_leaves_the_old_or_the_new_results(tmp_path, data, forked_cli):
    """The killed runs are forked from one process that imported DeepNodes and ran the workflow once
    (tests/forked_cli.py: real processes, SIGKILLed at seeded moments, without seconds of imports each); the
    last run is a whole CLI process."""
    wf_file = tmp_path / "wf.json"
    tables_workflow(data, 0).save(wf_file)
    folder = tmp_path / "wf.results"
    expected: dict[int, dict[str, pa.Table]] = {}

    def tables_for(seed: int) -> dict[str, pa.Table]:
        if seed not in expected:
            eng = Engine(tables_workflow(data, seed))
            assert eng.run().ok
            expected[seed] = tables_of(eng)
        return expected[seed]

    assert forked_cli.warm(["run", wf_file, "--quiet", "--save-results"]) == 0
    # how long a save takes from its generation folder's appearance to the switch of results.json
    old, inode = set(generations(folder)), (folder / "results.json").stat().st_ino
    p = forked_cli.start(["run", wf_file, "--quiet", "--save-results", "--set", "sample.seed=100"])
    assert _wait_for_new_generation(folder, old, p)
    t0 = time.monotonic()
    while (folder / "results.json").stat().st_ino == inode and time.monotonic() - t0 < 60:
        time.sleep(0.001)
    window = max(1.3 * (time.monotonic() - t0), 0.01)  # most kills before the switch, some after (widened below)
    assert p.wait(120) == 0
    current = 100
    rng = random.Random(17)
    outcomes = {"old": 0, "new": 0}
    for i in range(20):
        seed = i + 1
        old = set(generations(folder))
        p = forked_cli.start(["run", wf_file, "--quiet", "--save-results", "--set", f"sample.seed={seed}"])
        delay = rng.uniform(0, window)
        if _wait_for_new_generation(folder, old, p):
            time.sleep(delay)
        p.kill()
        p.wait(60)
        loaded = {}
        for s in {current, seed}:
            eng = Engine(tables_workflow(data, s))
            loaded[s] = (eng.load_results(folder), eng)
        full = [s for s, (n, _) in loaded.items() if n == 3]
        assert len(full) == 1, f"delay {i}: restored counts {[(s, n) for s, (n, _) in loaded.items()]}"
        s = full[0]
        for n, t in tables_of(loaded[s][1]).items():
            assert t.equals(tables_for(s)[n]), f"delay {i}: table '{n}' differs from the state of seed {s}"
        outcomes["new" if s == seed and s != current else "old"] += 1
        if s != seed and delay > window / 2:  # killed late and still before the switch: saves take longer now
            window *= 1.5
        current = s
    # the next run is correct and leaves one generation
    p = _cli(wf_file, "--set", "sample.seed=99")
    assert p.wait(120) == 0
    eng = Engine(tables_workflow(data, 99))
    assert eng.load_results(folder) == 3
    for n, t in tables_of(eng).items():
        assert t.equals(tables_for(99)[n])
    assert len(generations(folder)) == 1
    assert sum(outcomes.values()) == 20 and outcomes["old"] and outcomes["new"], outcomes  # kills on both sides
    print("outcomes of 20 kills:", outcomes, f"write window {window:.3f} s")


# ---------------------------------------------------------------------------- hostile results.json
HOSTILE = ["/etc/passwd", "../outside.json", "..", ".", "", "a/../../outside.json", "C:\\outside.json",
           "\\\\server\\share\\x", "link/outside.json", "n0/../../../outside.json", "n0\\..\\..\\outside.json",
           "n0/\x00.json", "n0//x.json", "uplink/outside.json"]


@pytest.fixture
def hostile_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "outside.json").write_text("666")
    (tmp_path / "outside.json").write_text("666")
    folder = tmp_path / "wf.results"
    gen = folder / "gen-0000000001-abcdef01"
    gen.mkdir(parents=True)
    (gen / MARKER).write_text("")
    (gen / "n0").mkdir()
    (gen / "n0" / "out.json").write_text("5")
    (gen / "link").symlink_to(outside)
    (folder / "uplink").symlink_to(outside)
    return folder


def _index(folder: Path, name, gen="gen-0000000001-abcdef01") -> None:
    wf = chain(1)
    eng = Engine(wf)
    eng.configure()
    (folder / "results.json").write_text(json.dumps({"format": "deepnodes.results/2", "generation": gen, "nodes": {
        "n0": {"key": eng.status["n0"].key, "outputs": {"out": name}, "scalars": {}, "seconds": 0.1}}}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(st.sampled_from(HOSTILE), st.text(alphabet="./\\ab:\x00~", max_size=12),
                      st.lists(st.sampled_from(["..", "n0", "link", "out.json", ".", "", "/"]), max_size=5)
                      .map("/".join)),
       gen=st.one_of(st.just("gen-0000000001-abcdef01"), st.sampled_from(["..", "/tmp", "link", "uplink", "", 3, None,
                                                                         "gen-0000000001-abcdef01/../.."])))
def test_hostile_results_json_reads_nothing_outside(hostile_folder, monkeypatch, name, gen):
    read: list[Path] = []
    real_load = fake_nodes.NUMBER_IO.load
    monkeypatch.setattr(fake_nodes.NUMBER_IO, "load", lambda path: read.append(Path(path)) or real_load(path))
    _index(hostile_folder, name, gen)
    eng = Engine(chain(1))
    restored = eng.load_results(hostile_folder)  # never raises
    root = hostile_folder.resolve()
    for p in read:
        assert p.resolve().is_relative_to(root), p
    try:
        idx = read_index(hostile_folder)
    except ResultsError as e:
        assert restored == 0 and eng.results_warning == str(e) and "\n" not in str(e)
        assert "results" in str(e)
        return
    assert not eng.results_warning  # accepted: every name is inside (a file that does not load is re-run)
    for e in idx.nodes.values():
        for n in e["outputs"].values():
            assert (idx.base / n).resolve().is_relative_to(root)
    if restored:
        assert eng.output("n0") == 5


@pytest.mark.parametrize("text", ["{", "[]", '{"format": "deepnodes.results/2"}', '{"format": 3}',
                                  '{"format": "deepnodes.results/1", "nodes": []}',
                                  '{"format": "deepnodes.results/1", "nodes": {"n0": {"key": 1}}}',
                                  '{"format": "deepnodes.results/1", "nodes": {"n0": {"key": "k", "outputs": {"out": 3}}}}',
                                  "\xff\xfe"])
def test_malformed_index_is_one_sentence(tmp_path, text):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "results.json").write_bytes(text.encode("latin-1"))
    eng = Engine(chain(1))
    assert eng.load_results(folder) == 0
    assert str(folder / "results.json") in eng.results_warning and "\n" not in eng.results_warning


def test_results_json_that_is_a_symlink_or_folder_is_refused(tmp_path):
    (tmp_path / "elsewhere.json").write_text("{}")
    a = tmp_path / "a.results"
    a.mkdir()
    (a / "results.json").symlink_to(tmp_path / "elsewhere.json")
    b = tmp_path / "b.results"
    (b / "results.json").mkdir(parents=True)
    for folder in (a, b):
        eng = Engine(chain(1))
        assert eng.load_results(folder) == 0 and "not a plain file" in eng.results_warning


def test_old_flat_results_are_read_and_replaced(tmp_path):
    """A folder written before generations (format /1: files beside results.json) reopens and upgrades."""
    folder = tmp_path / "wf.results"
    folder.mkdir()
    eng = Engine(chain(2))
    eng.configure()
    (folder / "n0.out.json").write_text("1.0")
    (folder / "mine.txt").write_text("a user's file")
    (folder / "results.json").write_text(json.dumps({"format": "deepnodes.results/1", "nodes": {
        "n0": {"key": eng.status["n0"].key, "outputs": {"out": "n0.out.json"}, "scalars": {}, "seconds": 0.1},
        "n1": {"key": "stale", "outputs": {"out": "mine.txt"}}}}))  # an index naming a user's file
    assert eng.load_results(folder) == 1
    assert eng.run().ok
    eng.save_results(folder)
    assert not (folder / "n0.out.json").exists() and (folder / "mine.txt").read_text() == "a user's file"
    again = Engine(chain(2))
    assert again.load_results(folder) == 2 and again.output("n1") == 2


# ---------------------------------------------------------------------------- unsaveable port objects
class _BlobIO:
    def save(self, obj, path):
        Path(path + ".half").write_text("half written")
        raise TypeError(f"cannot pickle {obj!r}: its class is defined in a script")

    def load(self, path):  # pragma: no cover - never saved
        raise AssertionError

    def spec_of(self, obj):
        return None

    def summary(self, obj):
        return {}


BLOB_IO = _BlobIO()
register_port_type(PortType("trust_blob", "An object that cannot be saved (tests only)", f"{__name__}:BLOB_IO"))


@node("test.trust.Unsaveable", name="Unsaveable", category="Test")
class Unsaveable(Node):
    """Outputs a number and an object that cannot be saved."""
    inputs = [In("a", "number")]
    outputs = [Out("out", "number"), Out("blob", "trust_blob")]

    class Config(NodeConfig):
        pass

    def configure(self, specs):
        return [fake_nodes.NumSpec(), None]

    def execute(self, inputs, ctx):
        return [inputs[0] + 1, "<a script's object>"]


def test_unsaveable_output_leaves_only_its_node_unsaved(tmp_path, capsys):
    wf = chain(2)
    wf.add("test.trust.Unsaveable", "u")
    wf.add("test.Add", "after")
    wf.connect("n1", "out", "u", "a")
    wf.connect("u", "out", "after", "a")
    wf_file = tmp_path / "wf.json"
    wf.save(wf_file)
    assert main(["run", str(wf_file), "--save-results"]) == 0
    err = capsys.readouterr().err
    assert "the results of node 'u' are not saved: cannot pickle" in err and "Traceback" not in err
    idx = read_index(tmp_path / "wf.results")
    assert set(idx.nodes) == {"n0", "n1", "after"}
    assert not list((tmp_path / "wf.results").rglob("*.half"))  # its half-written files are gone
    eng = Engine(Workflow.load(wf_file))
    assert eng.load_results(tmp_path / "wf.results") == 3
    assert eng.output("after") == 3


def test_network_of_a_script_class_is_left_unsaved_with_a_warning(tmp_path):
    code = ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.l = nn.Linear(4, 3)\n    def forward(self, x):\n        return self.l(x)\n"
            "output_network = Net()\n")
    wf = Workflow()
    wf.add("deepnodes.python.PythonNetworkCreator", "create", {
        "script": code, "inputs": [{"name": "x", "shape": [4]}], "outputs": [{"name": "y", "shape": [3]}]})
    wf.add("deepnodes.data.ParquetReader", "read", {"path": str(write_parquet(tmp_path / "d.parquet", 50))})
    eng = Engine(wf)
    assert eng.run().ok
    eng.save_results(tmp_path / "r")
    assert len(eng.save_warnings) == 1 and eng.save_warnings[0].startswith("the results of node 'create' are not saved")
    again = Engine(wf)
    assert again.load_results(tmp_path / "r") == 1 and again.status["read"].state == "executed"


def test_the_editor_saves_a_reopened_workflow_twice(tmp_path):
    """The server died with SIGBUS saving a workflow reopened with its results (tables mapped from the files)."""
    from fastapi.testclient import TestClient

    from deepnodes.server.app import create_app
    from tests.server.test_trust_server_docs import TOKEN, H, _graph, _run

    with TestClient(create_app(tmp_path, TOKEN)) as c:
        d = _graph(c, rows=20000)
        _run(c, d)
        before = c.app.state.docs.get(d).engine.output("flt").to_pydict()
        assert c.post(f"/api/docs/{d}/save_as", headers=H, json={"path": "flow"}).status_code == 200
        assert c.post(f"/api/docs/{d}/close", headers=H).status_code == 200
        d2 = c.post("/api/docs/open", headers=H, json={"path": "flow.json"}).json()["id"]
        for _ in range(2):
            assert c.post(f"/api/docs/{d2}/save", headers=H, json={}).status_code == 200
        assert c.app.state.docs.get(d2).engine.output("flt").to_pydict() == before
        assert c.post(f"/api/docs/{d2}/close", headers=H).status_code == 200
        d3 = c.post("/api/docs/open", headers=H, json={"path": "flow.json"}).json()
        assert d3["status"]["flt"]["state"] == "executed"
        assert c.app.state.docs.get(d3["id"]).engine.output("flt").to_pydict() == before
    assert len(generations(tmp_path / "flow.results")) == 1


def test_cli_says_in_one_line_why_saved_results_are_not_reopened(tmp_path, capsys):
    wf_file = tmp_path / "wf.json"
    chain(2).save(wf_file)
    folder = tmp_path / "wf.results"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"format": "deepnodes.results/1", "nodes": {
        "n0": {"key": "k", "outputs": {"out": "/etc/passwd"}}}}))
    assert main(["run", str(wf_file), "--quiet", "--save-results"]) == 0
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "'/etc/passwd'" in warned[0] and "not inside the results folder" in warned[0]
    assert read_index(folder).generation is not None  # the run's own results replaced the refused index
