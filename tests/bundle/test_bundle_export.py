"""`deepnodes export`: a trained workflow's bundle runs without DeepNodes and torch, with the workflow's numbers."""
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepnodes.cli import main
from deepnodes.core import Engine, Workflow

PLAIN_PACKAGES = ("onnxruntime", "numpy", "PIL")


def _images(folder: Path, rng) -> None:
    from PIL import Image

    for k, cls in enumerate(("boot", "shirt")):
        (folder / cls).mkdir(parents=True)
        for i in range(4):
            a = rng.integers(0, 120, (9, 7, 3)) + 120 * k  # two classes of different brightness, odd sizes
            Image.fromarray(a.astype(np.uint8)).save(folder / cls / f"{i}.png")


def _workflow(tmp: Path, steps: list[dict]) -> Path:
    def n(i, t, c=None):
        return {"id": i, "type": t, "config": c or {}}

    nodes = [n("reader", "deepnodes.data.ImageFolderReader", {"path": str(tmp / "images")})]
    conns, prev = [], "reader"
    for k, cfg in enumerate(steps):
        nodes.append(n(f"prep{k}", "deepnodes.data.ImageToTensor", cfg))
        conns.append({"source": prev, "source_port": "table", "target": f"prep{k}", "target_port": "table"})
        prev = f"prep{k}"
    nodes += [n("input", "deepnodes.layers.Input", {"name": "image", "shape": [1, 6, 6]}),
              n("flatten", "deepnodes.layers.Flatten"),
              n("dense", "deepnodes.layers.Dense", {"units": 2, "activation": "softmax"}),
              n("learner", "deepnodes.dl.NetworkLearner", {"epochs": 5, "seed": 1, "batch_size": 4, "targets": [
                  {"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}]}),
              n("executor", "deepnodes.dl.NetworkExecutor", {"backend": "torch"})]
    conns += [{"source": "input", "source_port": "network", "target": "flatten", "target_port": "input"},
              {"source": "flatten", "source_port": "network", "target": "dense", "target_port": "input"},
              {"source": "dense", "source_port": "network", "target": "learner", "target_port": "network"},
              {"source": prev, "source_port": "table", "target": "learner", "target_port": "table"},
              {"source": "learner", "source_port": "network", "target": "executor", "target_port": "network"},
              {"source": prev, "source_port": "table", "target": "executor", "target_port": "table"}]
    p = tmp / "wf.json"
    p.write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "tiny images", "nodes": nodes,
                             "connections": conns}))
    return p


def _plain_python(tmp: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """A Python that sees only onnxruntime, numpy and pillow (and what they import; and the `extra` packages, e.g.
    sentencepiece): `python -I -S` with a PYTHONPATH of links to those packages alone."""
    import importlib.util

    site = tmp / "plain_site"
    site.mkdir()
    for name in PLAIN_PACKAGES + extra:
        spec = importlib.util.find_spec(name)
        src = Path(spec.origin).parent
        (site / src.name).symlink_to(src)
        for libs in src.parent.glob(f"{src.name.lower()}*.libs"):  # bundled shared libraries (wheels)
            (site / libs.name).symlink_to(libs)
    for dep in ("flatbuffers", "packaging", "coloredlogs", "humanfriendly", "sympy", "mpmath", "google"):
        spec = importlib.util.find_spec(dep)
        if spec is not None and spec.origin:
            src = Path(spec.origin).parent if spec.origin.endswith("__init__.py") else Path(spec.origin)
            if not (site / src.name).exists():
                (site / src.name).symlink_to(src)
    runner = tmp / "plain_run.py"
    runner.write_text(f"import runpy, sys\nsys.path[:0] = [{str(site)!r}]\nsys.argv = sys.argv[1:]\n"
                      "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    return [sys.executable, "-I", "-S", str(runner)]  # -S: no site-packages at all


@pytest.mark.parametrize("steps", [
    [{"column": "image", "mode": "grayscale", "size": [6, 6]}],
    [{"column": "image", "mode": "rgb", "size": [6, 6], "scale": "none"},
     {"column": "image", "mode": "grayscale", "scale": "symmetric"}],
])
def test_bundle_predicts_like_the_workflow_without_deepnodes_or_torch(tmp_path, steps):
    _images(tmp_path / "images", np.random.default_rng(0))
    wf_path = _workflow(tmp_path, steps)
    engine = Engine(Workflow.load(wf_path))
    res = engine.run()
    assert res.ok, {k: v.message for k, v in engine.status.items()}
    engine.save_results(wf_path.with_suffix(".results"))
    table = engine.output("executor", "table")
    assert main(["export", str(wf_path), "--out", str(tmp_path / "bundle")]) == 0
    out = tmp_path / "bundle"
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "bundle.json", "imaging.py", "network.onnx",
                                                     "predict.py", "requirements.txt"]
    assert (out / "requirements.txt").read_text().split() == ["onnxruntime", "numpy", "pillow"]
    files = sorted((tmp_path / "images").rglob("*.png"))
    py = _plain_python(tmp_path)
    env = {"PATH": os.environ.get("PATH", ""), "OMP_NUM_THREADS": "1"}
    probe = tmp_path / "probe.py"
    probe.write_text("import importlib.util, onnxruntime, numpy, PIL\n"
                     "print([m for m in ('torch', 'deepnodes', 'pyarrow', 'keras') if importlib.util.find_spec(m)])\n")
    r = subprocess.run(py + [str(probe)], capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr + r.stdout  # none of them can be imported
    r = subprocess.run(py + [str(out / "predict.py"), *map(str, files)], capture_output=True, text=True, env=env,
                       timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    by_path = {str(p): i for i, p in enumerate(files)}
    want = table.to_pylist()
    assert len(got) == len(want) == 8
    rows = tmp_path / "rows.json"  # the same images as base64 rows, the form a service client sends
    rows.write_text(json.dumps([{"image": base64.b64encode(p.read_bytes()).decode()} for p in files[:3]]))
    r2 = subprocess.run(py + [str(out / "predict.py"), str(rows)], capture_output=True, text=True, env=env,
                        timeout=120, cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    assert [json.loads(line) for line in r2.stdout.splitlines()] == got[:3]
    name = json.loads((out / "bundle.json").read_text())["outputs"][0]["name"]
    for row in want:
        g = got[by_path[row["path"]]]
        assert len(g[name]) == 2
        assert np.max(np.abs(np.asarray(g[name]) - np.asarray(row[name]).ravel())) < 1e-5
        assert g["prediction"] == row["prediction"]
        assert abs(g["probability"] - row["probability"]) < 1e-5


def test_export_names_the_node_without_saved_results(tmp_path, capsys):
    _images(tmp_path / "images", np.random.default_rng(1))
    wf_path = _workflow(tmp_path, [{"column": "image", "mode": "grayscale", "size": [6, 6]}])
    assert main(["export", str(wf_path), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "node 'learner'" in err and "--save-results" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists()


def test_export_never_replaces_a_folder_it_did_not_write(tmp_path, capsys):
    _images(tmp_path / "images", np.random.default_rng(2))
    wf_path = _workflow(tmp_path, [{"column": "image", "mode": "grayscale", "size": [6, 6]}])
    engine = Engine(Workflow.load(wf_path))
    assert engine.run().ok
    engine.save_results(wf_path.with_suffix(".results"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert main(["export", str(wf_path), "--out", str(mine)]) == 2
    assert "not a DeepNodes bundle" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep" and len(list(mine.iterdir())) == 1
