"""Chunk Loop and Folder Loop: the Loop End's concatenation, iteration k of n, per-iteration caching, a cancel
after the current iteration, further inputs given to every iteration, and bad input before anything runs.
Real data: digits rows, and folders of PNG / CSV files written from digits in the test."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepnodes.core import Engine, Workflow, WorkflowError
from deepnodes.core.component import memo_clear
from tests.flow.flow_bodies import IN, OUT, build, executing, outer

CHUNK, FOLDER = "deepnodes.flow.ChunkLoop", "deepnodes.flow.FolderLoop"


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo_clear()


def filter_body(input_name: str = "chunk") -> dict:
    """chunk -> Row Filter (digit < 5) -> kept."""
    return build([(input_name, IN, {"name": input_name}),
                  ("small", "deepnodes.data.RowFilter", {"column": "label", "operator": "<", "value": "5"}),
                  ("out", OUT, {"name": "kept"})],
                 [(input_name, "value", "small", "table"), ("small", "table", "out", "value")])


def run(wf: Workflow):
    eng = Engine(wf)
    events: list[dict] = []
    eng.subscribe(events.append)
    return eng, eng.run(), events


def flat_filtered() -> pa.Table:
    wf = Workflow("flat")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"})
    wf.add("deepnodes.data.RowFilter", "small", {"column": "label", "operator": "<", "value": "5"})
    wf.connect("digits", "table", "small", "table")
    eng = Engine(wf)
    assert eng.run().ok
    return eng.output("small")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(150, 2000))
def test_a_chunk_loop_appends_the_chunks_results_to_what_the_body_gives_on_all_rows(size):
    memo_clear()
    eng, res, events = run(outer(CHUNK, {"body": filter_body(), "chunk_size": size}, holder="loop"))
    assert res.ok, eng.status["loop"].message
    n = -(-1797 // size)
    kept = eng.output("loop", "kept")
    iters = kept.column("iteration")
    assert kept.drop_columns(["iteration"]).equals(flat_filtered())
    assert sorted(set(iters.to_pylist())) == list(range(1, n + 1))
    per = eng.output("loop", "iterations").to_pylist()
    assert [r["iteration"] for r in per] == list(range(1, n + 1)) and sum(r["rows"] for r in per) == 1797
    progress = [e["message"] for e in events if e.get("type") == "progress" and e.get("node") == "loop"]
    assert progress[:n] == [f"iteration {k} of {n}" for k in range(1, n + 1)]
    assert executing(events, "loop").count("loop/small") == n


def test_each_iteration_is_cached_like_a_normal_run():
    wf = outer(CHUNK, {"body": filter_body(), "chunk_size": 400}, holder="loop")
    eng, res, _ = run(wf)
    assert res.ok
    eng2, res2, ev2 = run(outer(CHUNK, {"body": filter_body(), "chunk_size": 400}, holder="loop"))
    assert res2.ok and executing(ev2, "loop") == [] and eng2.output("loop", "kept").equals(eng.output("loop", "kept"))
    # another chunk size: other chunks, so every iteration runs again and gives the same rows
    eng3, res3, ev3 = run(outer(CHUNK, {"body": filter_body(), "chunk_size": 700}, holder="loop"))
    assert res3.ok and executing(ev3, "loop").count("loop/small") == 3
    assert eng3.output("loop", "kept").drop_columns(["iteration"]).equals(flat_filtered())


def test_a_cancel_ends_the_loop_after_the_current_iteration_and_keeps_the_finished_ones():
    eng = Engine(outer(CHUNK, {"body": filter_body(), "chunk_size": 60}, holder="loop"))  # 30 iterations
    started: list[str] = []

    def on(ev):
        if ev.get("type") == "state" and ev.get("state") == "executing" and ev.get("node") == "loop/small":
            started.append(ev["node"])
            if len(started) == 2:
                eng.cancel()
    eng.subscribe(on)
    res = eng.run()
    st = eng.status["loop"]
    assert res.cancelled and st.partial and "kept" in st.message
    iters = eng.output("loop", "iterations").column("iteration").to_pylist()
    assert 2 <= len(iters) < 30 and iters == list(range(1, len(iters) + 1))
    assert sorted(set(eng.output("loop", "kept").column("iteration").to_pylist())) == iters
    assert len(started) == len(iters)  # no iteration started after the cancel was seen


def _digits(n: int):
    wf = Workflow("d")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"})
    eng = Engine(wf)
    assert eng.run().ok
    return eng.output("digits").slice(0, n)


def write_pngs(folder, table: pa.Table) -> list:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    imgs = np.asarray(table.column("image").combine_chunks().to_numpy_ndarray())  # (N, 1, 8, 8) uint8
    files = []
    for i, img in enumerate(imgs):
        f = folder / f"digit_{i:02d}.png"
        Image.fromarray(img[0].astype(np.uint8), mode="L").save(f)
        files.append(f)
    (folder / "notes.txt").write_text("not an image")
    return files


def _image_body(with_network: bool) -> dict:
    nodes = [("file", IN, {"name": "file"}), ("tensor", "deepnodes.data.ImageToTensor", {}),
             ("out", OUT, {"name": "predictions" if with_network else "tensors"})]
    links = [("file", "value", "tensor", "table")]
    if with_network:
        nodes += [("net", IN, {"name": "network", "type": "network"}), ("exec", "deepnodes.dl.NetworkExecutor", {})]
        links += [("net", "value", "exec", "network"), ("tensor", "table", "exec", "table"),
                  ("exec", "table", "out", "value")]
    else:
        links += [("tensor", "table", "out", "value")]
    return build(nodes, links)


def test_a_folder_loop_runs_each_image_through_the_body_in_sorted_order(tmp_path):
    digits = _digits(6)
    files = write_pngs(tmp_path / "imgs", digits)
    wf = Workflow("outer")
    wf.add(FOLDER, "loop", {"body": _image_body(False), "path": str(tmp_path / "imgs"), "pattern": "*.png"})
    eng, res, events = run(wf)
    assert res.ok, eng.status["loop"].message
    out = eng.output("loop", "tensors")
    assert out.column("path").to_pylist() == [str(f) for f in files]
    got = out.column("image").combine_chunks().to_numpy_ndarray()
    want = digits.column("image").combine_chunks().to_numpy_ndarray().astype(np.float32) / 255
    assert got.shape == (6, 1, 8, 8) and np.allclose(got, want)
    assert eng.output("loop", "iterations").column("path").to_pylist() == [str(f) for f in files]
    progress = [e["message"] for e in events if e.get("type") == "progress" and e.get("node") == "loop"]
    assert progress[:6] == [f"file {k} of 6" for k in range(1, 7)]
    # a new file: the loop's key changes, and only the new file's iteration runs (the others are cache hits)
    write_pngs(tmp_path / "more", digits.slice(0, 1))
    (tmp_path / "more" / "digit_00.png").rename(tmp_path / "imgs" / "digit_99.png")
    eng2, res2, ev2 = run(wf)
    assert res2.ok and eng2.output("loop", "tensors").num_rows == 7
    assert executing(ev2, "loop") == ["loop/tensor", "loop/out"]


@pytest.mark.slow
def test_a_trained_network_given_to_a_folder_loop_predicts_each_file_as_on_the_table(tmp_path):
    digits = _digits(8)
    write_pngs(tmp_path / "imgs", digits)
    wf = Workflow("outer")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"})
    wf.add("deepnodes.data.ImageToTensor", "tensor", {})
    wf.add("deepnodes.layers.Input", "input", {"shape": [1, 8, 8], "name": "image"})
    wf.add("deepnodes.layers.Flatten", "flatten", {})
    wf.add("deepnodes.layers.Dense", "dense", {"units": 10, "activation": "softmax"})
    wf.add("deepnodes.dl.NetworkLearner", "learner", {
        "epochs": 1, "batch_size": 64, "seed": 1,
        "targets": [{"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}]})
    wf.add("deepnodes.dl.NetworkExecutor", "direct", {})
    wf.add(FOLDER, "loop", {"body": _image_body(True), "path": str(tmp_path / "imgs"), "pattern": "*.png"})
    for link in [("digits", "table", "tensor", "table"), ("input", "network", "flatten", "input"),
                 ("flatten", "network", "dense", "input"), ("dense", "network", "learner", "network"),
                 ("tensor", "table", "learner", "table"), ("learner", "network", "direct", "network"),
                 ("tensor", "table", "direct", "table"), ("learner", "network", "loop", "network")]:
        wf.connect(*link)
    eng, res, _ = run(wf)
    assert res.ok, {n: s.message for n, s in eng.status.items() if s.message}
    loop, direct = eng.output("loop", "predictions"), eng.output("direct").slice(0, 8)
    cols = [c for c in direct.column_names if c.startswith("prediction") or c.endswith("probability")]
    assert cols
    for c in cols:
        a, b = loop.column(c).to_pylist(), direct.column(c).to_pylist()
        assert a == b or np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=1e-5)


def test_a_folder_loop_sets_a_body_option_to_each_file(tmp_path):
    digits = _digits(90)
    folder = tmp_path / "csv"
    folder.mkdir()
    for k in range(3):
        part = digits.slice(30 * k, 30)
        with open(folder / f"part{k}.csv", "w") as f:
            f.write("label,class_name\n" + "".join(f"{a},{b}\n" for a, b in zip(part.column("label").to_pylist(),
                                                                                  part.column("class_name").to_pylist())))
    body = build([("reader", "deepnodes.data.CSVReader", {"path": "placeholder.csv"}),
                  ("small", "deepnodes.data.RowFilter", {"column": "label", "operator": "<", "value": "5"}),
                  ("out", OUT, {"name": "kept"})],
                 [("reader", "table", "small", "table"), ("small", "table", "out", "value")])
    wf = Workflow("outer")
    wf.add(FOLDER, "loop", {"body": body, "path": str(folder), "pattern": "*.csv", "file_option": "reader.path"})
    eng, res, _ = run(wf)
    assert res.ok, eng.status["loop"].message
    kept = eng.output("loop", "kept")
    want = [v for v in digits.column("label").to_pylist() if v < 5]
    assert kept.column("label").to_pylist() == want
    assert [r["iteration"] for r in eng.output("loop", "iterations").to_pylist()] == [1, 2, 3]


def _no_chunk_body() -> dict:
    return filter_body("rows")


@pytest.mark.parametrize("holder, cfg, words", [
    (CHUNK, {}, "there is no body"),
    (CHUNK, {"body": "NOCHUNK"}, "its body needs a Component Input 'chunk' (table)"),
    (CHUNK, {"body": "BODY", "iteration_column": "label"}, "already has a column 'label'"),
    (FOLDER, {"body": "FILE", "path": "EMPTY"}, "holds no files matching '*'"),
    (FOLDER, {"body": "FILE", "path": "EMPTY", "pattern": "*.png"}, "holds no files matching '*.png'"),
    (FOLDER, {"body": "FILE", "path": "MISSING"}, "(option 'path') does not exist"),
    (FOLDER, {"body": "FILE"}, "no folder is set"),
    (FOLDER, {"body": "NOCHUNK", "path": "FULL"}, "its body needs a Component Input 'file' (table) or option"),
    (FOLDER, {"body": "FILE", "path": "FULL", "file_option": "nope.path"}, "option 'file_option' names 'nope.path'"),
])
def test_bad_loops_are_one_sentence_on_the_node_before_anything_runs(tmp_path, holder, cfg, words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.png").write_bytes(b"x")
    bodies = {"BODY": filter_body(), "NOCHUNK": _no_chunk_body(), "FILE": filter_body("file")}
    paths = {"EMPTY": tmp_path / "empty", "MISSING": tmp_path / "missing", "FULL": tmp_path / "full"}
    cfg = {k: (bodies[v] if k == "body" else str(paths[v]) if k == "path" else v) for k, v in cfg.items()}
    if holder == CHUNK:
        wf = outer(CHUNK, cfg, holder="loop")
    else:
        wf = Workflow("outer")
        wf.add(FOLDER, "loop", cfg)
    eng, res, events = run(wf)
    msg = eng.status["loop"].message
    assert not res.ok and words in msg and "\n" not in msg and "Traceback" not in msg
    assert executing(events, "loop") == []


def test_chunk_size_zero_is_refused_when_the_workflow_is_built():
    with pytest.raises(WorkflowError) as e:
        outer(CHUNK, {"body": filter_body(), "chunk_size": 0}, holder="loop")
    assert str(e.value) == "node 'loop' option 'chunk_size': input should be greater than or equal to 1; it is 0"


def test_an_empty_table_is_one_sentence_before_any_iteration():
    body = filter_body()
    wf = outer(CHUNK, {"body": body}, holder="loop")
    wf.add("deepnodes.data.RowFilter", "none", {"column": "label", "operator": ">", "value": "99"})
    wf.connections.clear()
    wf.connect("digits", "table", "none", "table")
    wf.connect("none", "table", "loop", "table")
    eng, res, events = run(wf)
    assert not res.ok and "has no rows, so there is nothing to loop over" in eng.status["loop"].message
    assert executing(events, "loop") == []


def test_the_cli_shows_iteration_k_of_n_without_a_terminal(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    wf = outer(CHUNK, {"body": filter_body(), "chunk_size": 600}, holder="loop")
    f = tmp_path / "chunk.json"
    f.write_text(json.dumps(wf.to_json()))
    cli = Path(sys.executable).with_name("deepnodes")
    p = subprocess.run([str(cli), "run", str(f)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("loop: iteration")]
    assert lines == ["loop: iteration 1 of 3", "loop: iteration 2 of 3", "loop: iteration 3 of 3"]
    assert p.stderr.count("loop/small: executing") == 3 and "loop/small: configured" not in p.stderr
