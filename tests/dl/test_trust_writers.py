"""Issue 17, section 2 (Network Writer, Model Writer) and 4 (TorchScript results): writers never delete or replace
what they did not write; a new file or folder is written beside, verified, then switched; a run killed at any
moment leaves the previous network loading intact."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deepnodes.core.atomic_files import NEW_TAG, OLD_TAG, recover, replace_dir
from deepnodes.dl.formats.native import NetworkFormatError, load_network, save_network
from deepnodes.dl.formats.onnx import ExportError, export_onnx
from deepnodes.dl.formats.torchscript import export_torchscript, import_torchscript
from trust_samples import small_network

ROOT = Path(__file__).resolve().parents[2]


def _same(a, b) -> bool:
    x = torch.rand(3, 4, generator=torch.Generator().manual_seed(0))
    return torch.allclose(a.forward(x)[0], b.forward(x)[0])


def test_a_users_folder_survives(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("three years of work")
    with pytest.raises(NetworkFormatError, match="is not empty and is not a DeepNodes network; refusing"):
        save_network(small_network(), folder)
    assert (folder / "thesis.txt").read_text() == "three years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temporary sibling left


def test_a_network_folder_holding_a_users_file_is_not_replaced(tmp_path):
    p = save_network(small_network(0), tmp_path / "net")
    (p / "notes.md").write_text("mine")
    with pytest.raises(NetworkFormatError, match="refusing to replace it"):
        save_network(small_network(1), p)
    assert (p / "notes.md").read_text() == "mine" and _same(load_network(p), small_network(0))


def test_replacing_a_network_switches_it_and_leaves_nothing_beside(tmp_path):
    for target in (tmp_path / "net", tmp_path / "net.dnn"):
        save_network(small_network(0), target)
        save_network(small_network(1), target)
        assert _same(load_network(target), small_network(1))
        assert not _same(load_network(target), small_network(0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net", "net.dnn"]
    empty = tmp_path / "empty"
    empty.mkdir()
    save_network(small_network(0), empty)  # an empty folder holds nothing to lose
    assert _same(load_network(empty), small_network(0))


@pytest.mark.parametrize("name,write", [
    ("data.dnn", lambda n, p: save_network(n, p)),
    ("data.onnx", lambda n, p: export_onnx(n, p)),
    ("data.pt", lambda n, p: export_torchscript(n, p)),
])
def test_a_file_of_another_kind_is_never_replaced(tmp_path, name, write):
    p = tmp_path / name
    p.write_text("id,value\n1,2\n")
    with pytest.raises(ValueError, match="exists and is not a .*refusing to replace it"):
        write(small_network(), p)
    assert p.read_text() == "id,value\n1,2\n"
    assert [x.name for x in tmp_path.iterdir()] == [name]


def test_an_onnx_export_that_fails_verification_keeps_the_old_file(tmp_path, monkeypatch):
    import deepnodes.dl.formats.onnx as fo

    p = export_onnx(small_network(0), tmp_path / "n.onnx")
    before = p.read_bytes()

    def bad(*a, **k):
        raise ExportError("ONNX Runtime's outputs differ from torch's")

    monkeypatch.setattr(fo, "verify_onnx", bad)
    with pytest.raises(ExportError, match="differ"):
        export_onnx(small_network(1), p)
    assert p.read_bytes() == before and [x.name for x in tmp_path.iterdir()] == ["n.onnx"]


def test_a_torchscript_export_that_fails_verification_keeps_the_old_file(tmp_path, monkeypatch):
    p = export_torchscript(small_network(0), tmp_path / "n.pt")
    before = p.read_bytes()
    real = torch.jit.load

    def broken(path, *a, **k):
        raise RuntimeError("PytorchStreamReader failed reading zip archive")

    monkeypatch.setattr(torch.jit, "load", broken)
    with pytest.raises(RuntimeError):
        export_torchscript(small_network(1), p)
    monkeypatch.setattr(torch.jit, "load", real)
    assert p.read_bytes() == before and [x.name for x in tmp_path.iterdir()] == ["n.pt"]


def test_model_writer_refuses_a_foreign_file_and_replaces_its_own(tmp_path):
    from trust_samples import _table

    from deepnodes.ml.fit import fit_xgboost
    from deepnodes.ml.model import read_file, write_file

    m, _ = fit_xgboost(_table(), "y", params={"n_estimators": 2, "max_depth": 2, "n_jobs": 1})
    mine = tmp_path / "mine.json"
    mine.write_text('{"my": "settings"}')
    with pytest.raises(ValueError, match="option 'path'.*exists and is not a model file"):
        write_file(m, mine)
    assert mine.read_text() == '{"my": "settings"}'
    p = write_file(m, tmp_path / "m.json")
    write_file(m, p)
    assert read_file(p).task == "classification"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m.json", "mine.json"]


def test_an_interrupted_rename_dance_is_repaired(tmp_path):
    """Where the atomic exchange is missing, the old folder waits beside as `.name.dn-old`; `recover`, which the
    next write calls first, puts it back."""
    p = save_network(small_network(0), tmp_path / "net")
    old = p.with_name(f".{p.name}{OLD_TAG}")
    os.rename(p, old)  # the state between the dance's two renames
    recover(p)
    assert _same(load_network(p), small_network(0))
    os.rename(p, old)
    replace_dir(p, lambda t: (t / "network.json").write_text("{}"), owned=lambda q: True)
    assert (p / "network.json").read_text() == "{}" and not old.exists()


# ------------------------------------------------------------------------ the network port's results handler
def test_results_save_torchscript_natively_and_onnx_as_onnx(tmp_path):
    from deepnodes.dl.formats.onnx import import_onnx
    from deepnodes.dl.io import NETWORK_IO

    net = small_network(0)
    ts = import_torchscript(export_torchscript(net, tmp_path / "a.pt"))
    ox = import_onnx(export_onnx(net, tmp_path / "a.onnx"))
    for src, suffix in ((ts, ".pt"), (ox, ".onnx"), (net, ".dnn")):
        src.metadata["class_names"] = ["a", "b", "c"]
        name = NETWORK_IO.save(src, str(tmp_path / f"n{suffix[1:]}.network"))
        assert name.endswith(suffix)
        back = NETWORK_IO.load(str(tmp_path / name))
        assert _same(back, net) and back.spec.inputs == net.spec.inputs
        assert back.metadata["class_names"] == ["a", "b", "c"]


def test_results_refuse_to_pickle_a_module_only_pickling_could_save(tmp_path):
    from deepnodes.dl.io import NETWORK_IO
    from deepnodes.dl.network import Network
    from deepnodes.dl.spec import NetworkSpec, TensorSpec

    class Scripted(torch.nn.Module):  # like a class defined in a Python Script node
        def forward(self, x):
            return x

    net = Network(NetworkSpec((TensorSpec("x", (4,)),), (TensorSpec("y", (4,)),)), module=Scripted())
    with pytest.raises(NetworkFormatError, match="cannot rebuild from a description; saving it needs pickling"):
        NETWORK_IO.save(net, str(tmp_path / "s.network"))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ SIGKILL during a Network Writer run
def _workflow(tmp_path: Path, target: Path) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    rows = ["a,b,c,d,y"] + [",".join(f"{v:.3f}" for v in rng.random(4)) + f",{i % 2}" for i in range(16)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    nodes = [
        {"id": "csv", "type": "deepnodes.data.CSVReader", "position": [0, 0], "config": {"path": str(tmp_path / "t.csv")}},
        {"id": "in", "type": "deepnodes.layers.Input", "position": [0, 100], "config": {"shape": [4], "name": "x"}},
        {"id": "d1", "type": "deepnodes.layers.Dense", "position": [100, 100], "config": {"units": 1024}},
        {"id": "d2", "type": "deepnodes.layers.Dense", "position": [200, 100], "config": {"units": 4096}},
        {"id": "d3", "type": "deepnodes.layers.Dense", "position": [300, 100],
         "config": {"units": 2, "activation": "softmax"}},
        {"id": "learn", "type": "deepnodes.dl.NetworkLearner", "position": [400, 0],
         "config": {"epochs": 1, "batch_size": 16, "seed": 1,
                    "inputs": [{"columns": ["a", "b", "c", "d"], "converter": "numbers"}],
                    "targets": [{"columns": ["y"], "loss": "sparse_categorical_crossentropy"}]}},
        {"id": "write", "type": "deepnodes.dl.NetworkWriter", "position": [500, 0], "config": {"path": str(target)}},
    ]
    conns = [("in", "network", "d1", "input"), ("d1", "network", "d2", "input"), ("d2", "network", "d3", "input"),
             ("d3", "network", "learn", "network"), ("csv", "table", "learn", "table"),
             ("learn", "network", "write", "network")]
    wf = {"format": "deepnodes.workflow/1", "name": "writer", "nodes": nodes,
          "connections": [{"source": a, "source_port": b, "target": c, "target_port": d} for a, b, c, d in conns]}
    (tmp_path / "wf.json").write_text(json.dumps(wf))
    return tmp_path / "wf.json"


def _run(wf: Path) -> subprocess.CompletedProcess:
    """A whole `deepnodes run` in a fresh interpreter, as a user starts one."""
    return subprocess.run([sys.executable, "-m", "deepnodes.cli", "run", str(wf)], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)


def _writing(folder: Path, run, old: set[str]) -> float | None:
    """Wait until a new temporary sibling of the writer appears in `folder` (the write has begun; `old`: the names
    there before the run, a killed run's leftovers among them): its time, or None when the run ended first."""
    while run.poll() is None:
        if any(NEW_TAG in p.name and p.name not in old for p in folder.iterdir()):
            return time.monotonic()
        time.sleep(0.002)
    return None


def test_sigkill_during_network_writer_leaves_the_previous_network(tmp_path, forked_cli):
    """A network folder (the exchange of two folders); a .dnn file goes through the same `replace_file` as
    ONNX, TorchScript and model files, whose interrupted writes the tests above cover. The killed runs are
    forked from one process that imported DeepNodes once (tests/forked_cli.py): real processes, killed with
    SIGKILL at seeded moments, most of them while the writer writes (from its temporary sibling's appearance
    to the run's end), some earlier; the last run is a whole CLI process."""
    target_name = "net"
    target = tmp_path / "out" / target_name
    wf = _workflow(tmp_path, target)
    assert forked_cli.warm(["run", wf]) == 0  # the first write, in the forking process (see forked_cli.py)
    reference = load_network(target)
    x = torch.rand(5, 4, generator=torch.Generator().manual_seed(0))
    want = reference.forward(x)[0]
    rng = random.Random(17)
    t0 = time.monotonic()
    run = forked_cli.start(["run", wf])
    began = _writing(target.parent, run, set())
    assert began is not None and run.wait(600) == 0, run.output()[-2000:]
    before, window = began - t0, time.monotonic() - began  # time to the write, the write's time
    killed, runs = 0, 0
    while killed < 10 and runs < 30:
        late = runs % 4 != 0
        old = {p.name for p in target.parent.iterdir()}
        run = forked_cli.start(["run", wf])
        if late:
            began = _writing(target.parent, run, old)
            if began is not None:
                time.sleep(rng.uniform(0, 1.1 * window))
        else:
            time.sleep(rng.uniform(0, before))
        run.kill()
        runs += 1
        killed += run.wait(600) == -signal.SIGKILL
        net = load_network(target)  # old or new: both are the same seeded training, so the same weights
        assert torch.allclose(net.forward(x)[0], want)
        assert all(p.name == target_name or NEW_TAG in p.name for p in target.parent.iterdir())
    assert killed >= 10, f"only {killed} of {runs} runs were killed before they finished"
    last = _run(wf)
    assert last.returncode == 0
    assert torch.allclose(load_network(target).forward(x)[0], want)
    assert [p.name for p in target.parent.iterdir()] == [target_name]  # the next write cleaned up
