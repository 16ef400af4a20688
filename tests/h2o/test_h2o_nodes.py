"""H2O nodes through the engine, MOJO and binary model files, and the session's bad days: no Java, its port
taken, its JVM killed mid-run. Each is one sentence on the node; every other result is kept."""
from __future__ import annotations

import os
import signal
import socket

import pyarrow.parquet as pq
import pytest

from deepnodes.core import Engine, Workflow
from deepnodes.h2o import session as h2o_session
from deepnodes.h2o.learners import train
from deepnodes.h2o.model import read_file, write_file
from deepnodes.h2o.predict import predict
from deepnodes.h2o.session import H2OError, SessionOptions

from .h2o_helpers import accuracy


@pytest.fixture(scope="module")
def flowers_file(flowers, tmp_path_factory):
    path = tmp_path_factory.mktemp("h2o") / "flowers.parquet"
    pq.write_table(flowers, path)
    return str(path)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return tmp_path_factory.mktemp("h2o-saved")


def _workflow(flowers_file: str, **learner) -> Workflow:
    wf = Workflow("h2o test")
    wf.add("deepnodes.data.ParquetReader", "read", {"path": flowers_file})
    wf.add("deepnodes.h2o.Learner", "learn", {"target_column": "species", "algorithm": "gbm", "ntrees": 10,
                                              "seed": 1, "nthreads": 2, **learner})
    wf.add("deepnodes.h2o.Predictor", "predict", {"append_probabilities": True})
    wf.connect("read", "table", "learn", "table")
    wf.connect("learn", "model", "predict", "model")
    wf.connect("read", "table", "predict", "table")
    return wf


def test_binary_models_need_trust_and_a_session(session, flowers, tmp_path):
    model, _ = train(session, flowers, "drf", "species", params={"ntrees": 5}, seed=1)
    path = write_file(model, tmp_path / "flowers.h2o", "binary", session=session)
    with pytest.raises(ValueError, match="is an H2O binary model, and loading one runs Java deserialisation"):
        read_file(path)
    back = read_file(path, trust_binary=True, session_for_binary=session)
    assert back.model_id is not None and back.generation == session.generation
    got, where = predict(back, flowers, session=session)
    assert where == "session" and got.equals(predict(model, flowers)[0])
    with pytest.raises(ValueError, match="only be written while the session that trained it runs"):
        write_file(read_file(tmp_path / "flowers.h2o", True, session), tmp_path / "x.h2o", "binary", session=None)


def test_damaged_and_hostile_model_files_are_one_sentence(session, flowers, tmp_path):
    model, _ = train(session, flowers, "glm", "species", seed=1)
    good = write_file(model, tmp_path / "m.zip").read_bytes()
    (tmp_path / "cut.zip").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="'cut.zip' is not a readable H2O model file"):
        read_file(tmp_path / "cut.zip")
    import zipfile

    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.ini", b"[info]\n")
        z.writestr("big.bin", b"\0" * (64 << 20))
    with pytest.raises(ValueError, match="refusing it as a damaged or hostile zip"):
        read_file(tmp_path / "bomb.zip")


def test_the_workflow_trains_predicts_and_writes_a_mojo(session, flowers_file, saved):
    wf = _workflow(flowers_file, nfolds=3)
    wf.add("deepnodes.ml.ModelWriter", "write", {"path": str(saved / "flowers.zip")})
    wf.connect("learn", "model", "write", "model")
    eng = Engine(wf)
    events: list = []
    eng.subscribe(events.append)
    assert eng.run().ok, {n: s.message for n, s in eng.status.items()}
    out = eng.output("predict")
    assert accuracy(out, "species") > 0.9 and out.column_names[-1] == "P (species=virginica)"
    assert "cv_logloss" in eng.status["learn"].scalars
    assert h2o_session.current() is session  # the same session served the run (Python code holds it)
    pq.write_table(out, saved / "predicted.parquet")


def test_a_session_killed_mid_run_fails_the_node_and_the_next_run_starts_a_new_one(session, flowers,
                                                                                    flowers_file, monkeypatch):
    import deepnodes.h2o.learners as learners

    real = learners.upload

    def kill_then_upload(*a, **kw):  # the JVM dies after the node got the session, before it is used
        s = h2o_session.current()
        os.kill(s.pid, signal.SIGKILL)
        s.server._process.wait(10)
        return real(*a, **kw)

    monkeypatch.setattr(learners, "upload", kill_then_upload)
    eng = Engine(_workflow(flowers_file))
    res = eng.run()
    assert res.failed == ["learn"] and eng.status["read"].state == "executed"
    msg = eng.status["learn"].message
    assert "stopped while uploading the training table; run again to start a new session" in msg, msg
    monkeypatch.setattr(learners, "upload", real)
    eng.reset("learn")
    events: list = []
    eng.subscribe(events.append)
    assert eng.run().ok
    assert accuracy(eng.output("predict"), "species") > 0.9
    assert any("about 9 s" in (e.get("message") or "") for e in events if e["type"] == "progress")
    if hasattr(eng, "resources"):  # this session was started by the run: it stops when the run ends
        assert h2o_session.current() is None


def test_a_mojo_file_scores_without_a_cluster_like_the_session_did(flowers_file, saved):
    h2o_session.shutdown()
    wf = Workflow("score")
    wf.add("deepnodes.data.ParquetReader", "read", {"path": flowers_file})
    wf.add("deepnodes.ml.ModelReader", "model", {"path": str(saved / "flowers.zip")})
    wf.add("deepnodes.h2o.Predictor", "predict", {"append_probabilities": True})
    wf.connect("model", "model", "predict", "model")
    wf.connect("read", "table", "predict", "table")
    eng = Engine(wf)
    lines: list = []
    eng.subscribe(lambda e: lines.append(e.get("line", "")) if e["type"] == "log" else None)
    assert eng.run().ok, {n: s.message for n, s in eng.status.items()}
    assert h2o_session.current() is None and any("from the MOJO" in ln for ln in lines)
    before = pq.read_table(saved / "predicted.parquet")
    got = eng.output("predict")
    assert got.column("Prediction (species)").to_pylist() == before.column("Prediction (species)").to_pylist()
    for c in ("setosa", "versicolor", "virginica"):
        a, b = got.column(f"P (species={c})").to_numpy(), before.column(f"P (species={c})").to_numpy()
        assert abs(a - b).max() < 1e-6


def test_no_java_fails_the_h2o_nodes_with_a_sentence_and_keeps_the_rest(flowers_file, tmp_path, monkeypatch):
    h2o_session.shutdown()
    monkeypatch.setenv("PATH", str(tmp_path))
    for var in ("JAVA_HOME", "H2O_JAVA_HOME"):
        monkeypatch.delenv(var, raising=False)
    eng = Engine(_workflow(flowers_file))
    res = eng.run()
    assert res.failed == ["learn"] and eng.status["read"].state == "executed"
    assert eng.status["learn"].message.startswith("H2O needs Java (version 8 or newer) and none was found")
    assert "not executed: 'learn' failed" in eng.status["predict"].message


def test_a_taken_port_is_a_sentence_before_any_jvm_starts():
    h2o_session.shutdown()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        with pytest.raises(H2OError, match=f"port {port} on 127.0.0.1 is taken by another program \\(option 'port'"):
            h2o_session.acquire(SessionOptions(port=port))
    assert h2o_session.current() is None
    with pytest.raises(ValueError, match="option 'max_mem_size' 'lots' is not a memory size"):
        h2o_session.acquire(SessionOptions(max_mem_size="lots"))


def test_an_existing_cluster_by_url_is_used_not_stopped_and_its_jvm_dies_with_its_python(flowers_file):
    """Another process's H2O (started through DeepNodes, then killed with -9) serves a run given its URL."""
    import subprocess
    import sys
    import time

    h2o_session.shutdown()
    code = ("from deepnodes.h2o import session as s\n"
            "x = s.acquire(s.SessionOptions(max_mem_size='1G', nthreads=2))\n"
            "print(x.pid, x.url, flush=True)\n"
            "import time; time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid, url = proc.stdout.readline().split()
        jvm = int(pid)
        eng = Engine(_workflow(flowers_file, cluster_url=url))
        assert eng.run().ok, {n: s.message for n, s in eng.status.items()}
        assert accuracy(eng.output("predict"), "species") > 0.9
        os.kill(jvm, 0)  # the run ended; a cluster it did not start keeps running
        assert h2o_session.current() is not None and h2o_session.current().server is None
        with pytest.raises(H2OError, match="held by Python code; use the same options"):
            h2o_session.acquire(SessionOptions(url=url))  # Python code now holds the URL session
            h2o_session.acquire(SessionOptions(max_mem_size="2G"))
    finally:
        h2o_session.shutdown()
        proc.kill()  # SIGKILL: no atexit, no shutdown in that process
        proc.wait()
    for _ in range(60):
        try:
            os.kill(jvm, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.kill(jvm, signal.SIGKILL)
    pytest.fail(f"the H2O JVM {jvm} outlived the Python process that started it")
