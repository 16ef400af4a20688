"""Network Reader format `savedmodel`: SavedModels made by TensorFlow in a child process (tests/dl/savedmodel_samples.py)
are read, run by ONNX Runtime after tf2onnx (checked against TensorFlow's own outputs) or by TensorFlow itself,
executed on real rows and served; bad folders, signatures, shapes and dangerous ops are refused in one sentence.
This test process never imports TensorFlow (checked at the end of the module)."""
from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deepnodes.core import Engine, Workflow, registry
from deepnodes.dl.formats.savedmodel_read import check_folder, import_savedmodel
from deepnodes.dl.formats.tf_env import child_env

HERE = Path(__file__).parent
pytestmark = pytest.mark.slow  # each SavedModel read starts a TensorFlow child (TensorFlow's import: seconds)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tf2onnx") is None:
        pytest.skip('the TensorFlow extra is not installed (pip install "deepnodes[tensorflow]")')
    out = tmp_path_factory.mktemp("savedmodels")
    r = subprocess.run([sys.executable, str(HERE / "savedmodel_samples.py"), str(out)], env=child_env(),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def two(models):
    """The two-input model read once (ONNX Runtime path), shared by the tests that need it as a reference."""
    return import_savedmodel(models / "two")


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory) -> Path:
    from sklearn.datasets import load_iris

    d = load_iris()
    p = tmp_path_factory.mktemp("iris") / "iris.csv"
    lines = ["sepal_length,sepal_width,petal_length,petal_width"] + [",".join(f"{v:g}" for v in row) for row in d.data]
    p.write_text("\n".join(lines) + "\n")
    return p


def _reader_executor(path: Path, csv: Path, **reader) -> Engine:
    registry.discover()
    wf = Workflow("savedmodel")
    wf.add("deepnodes.data.CSVReader", "csv", {"path": str(csv)})
    wf.add("deepnodes.dl.NetworkReader", "reader", {"path": str(path), **reader})
    wf.add("deepnodes.dl.NetworkExecutor", "exec", {
        "inputs": [{"columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"], "converter": "numbers"}],
        "keep_columns": False, "append_class": False})
    wf.connect("reader", "network", "exec", "network")
    wf.connect("csv", "table", "exec", "table")
    return Engine(wf)


def _column(table, name) -> np.ndarray:
    return np.array(table.column(name).to_pylist(), dtype=np.float32)


def test_reader_runs_a_savedmodel_with_onnx_runtime_like_tensorflow(models, iris_csv):
    eng = _reader_executor(models / "dense", iris_csv)  # format auto: a folder with saved_model.pb
    assert eng.run().ok, {k: v.message for k, v in eng.status.items()}
    net = eng.output("reader")
    assert net.metadata["backend"] == "onnxruntime" and net.metadata["signature"] == "serving_default"
    assert [(t.name, t.shape, t.dtype) for t in net.spec.inputs] == [("x", (4,), "float32")]
    assert [(t.name, t.shape, t.dtype) for t in net.spec.outputs] == [("probabilities", (3,), "float32")]
    got = _column(eng.output("exec"), "probabilities")
    assert got.shape == (150, 3)
    tf_net = import_savedmodel(models / "dense", backend="tensorflow")  # TensorFlow's own answer, in its child
    x = torch.from_numpy(np.loadtxt(iris_csv, delimiter=",", skiprows=1, dtype=np.float32))
    want = tf_net.forward(x)[0].numpy()
    assert np.max(np.abs(got - want) / (1 + np.abs(want))) <= 1e-5
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    # the other signature, chosen by option: its own output names; softmax of its logits is the default's output
    logits = import_savedmodel(models / "dense", signature="logits")
    assert [t.name for t in logits.spec.outputs] == ["logits"]
    np.testing.assert_allclose(torch.softmax(logits.forward(x)[0], 1).numpy(), want, atol=1e-5)
    from deepnodes.dl.losses import TrainingError
    from deepnodes.dl.optim import param_groups
    from deepnodes.dl.options import TrainingOptions

    for n, runner in ((net, "ONNX Runtime"), (tf_net, "TensorFlow")):  # fine-tuning is out of scope: said so
        with pytest.raises(TrainingError, match=f"the network is run by {runner} .*it cannot be trained"):
            param_groups(n.module, TrainingOptions())
    tf_net.module.worker.close()


def test_inputs_and_outputs_in_signature_key_order_with_their_dtypes(models, two):
    onnx_net = two
    tf_net = import_savedmodel(models / "two", backend="tensorflow")
    assert [(t.name, t.shape, t.dtype) for t in onnx_net.spec.inputs] == [("ids", (5,), "int64"),
                                                                          ("image", (6, 6, 1), "float32")]
    assert [(t.name, t.shape) for t in onnx_net.spec.outputs] == [("features", (2,)), ("score", (1,))]
    g = torch.Generator().manual_seed(3)
    ids, img = torch.randint(0, 10, (7, 5), generator=g), torch.rand(7, 6, 6, 1, generator=g)
    for a, b in zip(onnx_net.forward(ids, img), tf_net.forward(ids, img)):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-5)
    tf_net.module.worker.close()
    from deepnodes.dl.infer import predict

    (feat,), _ = predict(onnx_net, [ids, img], outputs=["features"])  # one output of several, as the Executor asks
    assert np.allclose(feat, onnx_net.forward(ids, img)[0].numpy(), atol=1e-6)


def test_the_order_and_metadata_deepnodes_recorded_are_used(models, two, tmp_path):
    import json
    import shutil

    from deepnodes.dl.spec import NetworkSpec, TensorSpec

    folder = tmp_path / "two"
    shutil.copytree(models / "two", folder)
    spec = NetworkSpec((TensorSpec("image", (6, 6, 1)), TensorSpec("ids", (5,), "int64")),
                       (TensorSpec("score", (1,)), TensorSpec("features", (2,))))
    (folder / "deepnodes.json").write_text(json.dumps({"spec": spec.to_json(), "metadata": {
        "class_names": ["a"], "factory": {"path": "os:system", "args": {}}}, "layout": "network"}))
    warnings: list[str] = []
    net = import_savedmodel(folder, warn=warnings.append)
    assert [t.name for t in net.spec.inputs] == ["image", "ids"] and [t.name for t in net.spec.outputs] == [
        "score", "features"]
    assert net.metadata["class_names"] == ["a"] and "factory" not in net.metadata and warnings == []
    g = torch.Generator().manual_seed(4)
    img, ids = torch.rand(3, 6, 6, 1, generator=g), torch.randint(0, 10, (3, 5), generator=g)
    want = two.forward(ids, img)  # read without the record: sorted order (ids, image) -> (features, score)
    got = net.forward(img, ids)
    assert torch.allclose(got[0], want[1], atol=1e-6) and torch.allclose(got[1], want[0], atol=1e-6)
    (folder / "deepnodes.json").write_text('{"spec": {"inputs": 3}}')
    again = import_savedmodel(folder, warn=warnings.append)
    assert [t.name for t in again.spec.inputs] == ["ids", "image"]
    assert len(warnings) == 1 and warnings[0].startswith("the SavedModel two: deepnodes.json is ignored (")


def test_an_op_tf2onnx_cannot_convert_falls_back_to_tensorflow_with_a_warning(models, tmp_path):
    registry.discover()
    wf = Workflow("lgamma")
    wf.add("deepnodes.dl.NetworkReader", "reader", {"path": str(models / "lgamma"), "format": "savedmodel"})
    eng = Engine(wf)
    logs: list[dict] = []
    eng.subscribe(lambda ev: logs.append(ev) if ev["type"] == "log" and ev["level"] == "warning" else None)
    assert eng.run().ok, eng.status["reader"].message
    eng.flush()
    net = eng.output("reader")
    assert net.metadata["backend"] == "tensorflow"
    warned = " ".join(e["line"] for e in logs if e["node"] == "reader")
    assert "runs in TensorFlow" in warned and "tf2onnx cannot convert it" in warned, warned
    x = torch.tensor([[0.5, 1.0, 4.0], [2.5, 0.0, 9.0]])
    want = torch.tensor([[2 * math.lgamma(v + 1) for v in row] for row in x.tolist()])
    assert torch.allclose(net.forward(x)[0], want, atol=1e-5)
    from deepnodes.dl.infer import predict

    (y,), backend = predict(net, [x], backend="auto")  # the Executor's path: not exportable by torch, run as is
    assert np.allclose(y, want.numpy(), atol=1e-5) and backend == "torch"
    pid = net.module.worker._proc.pid
    for _ in range(3):  # each Executor run and service request copies the module: they share one child
        twin = net.inference_module()
        assert torch.allclose(twin(x)[0], want, atol=1e-5)
    assert twin.worker is net.module.worker and net.module.worker._proc.pid == pid
    import pickle

    thawed = pickle.loads(pickle.dumps(twin))  # a pickled copy (another process) starts its own child
    assert thawed.worker is not net.module.worker and torch.allclose(thawed(x)[0], want, atol=1e-5)
    thawed.worker.close()


def test_ops_that_reach_files_are_refused_unless_trusted(models):
    with pytest.raises(ValueError, match=r"contains the TensorFlow op ReadFile \(in function '[^']+'\), which reads "
                                         r"or writes files; read it only if you trust its source \(option 'trust'\)"):
        import_savedmodel(models / "readfile")
    net = import_savedmodel(models / "readfile", trust=True)
    assert torch.allclose(net.forward(torch.zeros(2, 2))[0], torch.full((2, 2), 4.0))  # len("four")


@pytest.mark.parametrize("name,op,where", [("hidden", "WriteFile", "function '__inference_leak"),
                                           ("branch", "ReadFile", "function '")])
def test_a_dangerous_op_anywhere_the_loader_or_a_signature_reaches_is_refused(models, name, op, where):
    with pytest.raises(ValueError, match=rf"the SavedModel {name} contains the TensorFlow op {op} \(in {where}"):
        import_savedmodel(models / name)
    assert not (models / "leaked.txt").exists()


def test_every_stateful_op_of_this_tensorflow_is_reviewed():
    """The screen's rule over TensorFlow's whole op registry: each stateful op is of a family that reaches
    outside (refused) or of a reviewed in-process family; the ops layers use pass."""
    from deepnodes.dl.formats.tf_env import run_tf

    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip('the TensorFlow extra is not installed (pip install "deepnodes[tensorflow]")')
    r, _ = run_tf("deepnodes.dl.formats.savedmodel_jobs:review")
    assert len(r["ops"]) > 1000 and len(r["stateful"]) > 300
    assert [op for op, why in r["refused"].items() if "reviewed" in why or "knows" in why] == []
    refused = {"ReadFile": "files", "WriteFile": "files", "MatchingFiles": "files", "SaveV2": "files",
               "RestoreV2": "files", "MergeV2Checkpoints": "files", "InitializeTableFromTextFileV2": "files",
               "ImmutableConst": "files", "WholeFileReaderV2": "files", "LoadAndRemapMatrix": "files",
               "WriteScalarSummary": "files", "CreateSummaryFileWriter": "files", "DecodeProtoV2": "files",
               "TFRecordDatasetV2": "files", "SqlDataset": "files", "MapDataset": "tf.data", "FixedLengthRecordDatasetV2": "files",
               "PyFunc": "Python", "EagerPyFunc": "Python", "PyFuncStateless": "Python", "PrintV2": "console",
               "DebugIdentityV3": "debug", "RemoteCall": "machines", "CollectiveReduceV2": "machines",
               "CollectiveBcastSendV2": "machines", "NcclAllReduce": "machines"}
    for op, word in refused.items():
        assert op in r["ops"] and word in r["refused"].get(op, ""), (op, r["refused"].get(op))
    layers = ["MatMul", "BatchMatMulV2", "Einsum", "Conv2D", "Conv3D", "DepthwiseConv2dNative", "BiasAdd", "Relu",
              "Softmax", "LogSoftmax", "FusedBatchNormV3", "MaxPool", "AvgPool", "Mean", "Sum", "Erf", "Tanh",
              "Sigmoid", "Rsqrt", "ReadVariableOp", "VarHandleOp", "AssignVariableOp", "StatefulPartitionedCall",
              "PartitionedCall", "While", "If", "Identity", "Reshape", "Transpose", "ConcatV2", "GatherV2",
              "ResourceGather", "StridedSlice", "Cast", "Const", "Placeholder", "NoOp", "AddV2", "Pack", "Shape",
              "RandomUniform", "StatelessRandomUniformV2", "HashTableV2", "LookupTableFindV2", "TensorListReserve",
              "Lgamma", "DecodeCSV", "StringToNumber"]
    assert [op for op in layers if op in r["refused"] or op not in r["ops"]] == []


def test_unknown_dimensions_are_kept_or_named(models):
    pooled = import_savedmodel(models / "pooled")
    assert pooled.spec.inputs[0].shape == (None, 3)
    seq = torch.rand(2, 9, 3)
    assert torch.allclose(pooled.forward(seq)[0], seq.mean(1), atol=1e-6)
    with pytest.raises(ValueError, match=r"the SavedModel unknown: input 'values' has unknown dimensions "
                                         r"\('batch', '\?'\) and the model does not run on a sample of another size"):
        import_savedmodel(models / "unknown")


def test_bad_folders_and_signatures_are_one_sentence(models, tmp_path):
    with pytest.raises(ValueError, match="option 'signature': the SavedModel dense has no signature 'serve' "
                                         r"\(it has: logits, serving_default\)"):
        import_savedmodel(models / "dense", signature="serve")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "saved_model.pb").write_bytes(b"\x08\x01\xff\xff garbage" * 10)
    registry.discover()
    wf = Workflow("bad")
    wf.add("deepnodes.dl.NetworkReader", "reader", {"path": str(damaged), "format": "savedmodel"})
    eng = Engine(wf)
    eng.run()
    msg = eng.status["reader"].message
    assert msg.startswith("the SavedModel damaged has a damaged saved_model.pb") and "Traceback" not in msg


def test_a_keras_cnn_exported_by_keras_is_read_and_runs(models, tmp_path):
    net = import_savedmodel(models / "keras_cnn")
    assert net.metadata["backend"] == "onnxruntime"
    assert net.spec.inputs[0].shape == (8, 8, 1) and net.spec.outputs[0].shape == (10,)
    img = torch.rand(4, 8, 8, 1, generator=torch.Generator().manual_seed(0))
    probs = net.forward(img)[0]
    assert torch.allclose(probs.sum(1), torch.ones(4), atol=1e-5)


# ---------------------------------------------------------------- without TensorFlow: folder checks, the extra


def test_folder_checks_need_no_tensorflow(tmp_path):
    with pytest.raises(ValueError, match="there is no SavedModel folder at"):
        check_folder(tmp_path / "missing")
    (tmp_path / "model.pb").write_bytes(b"x")
    with pytest.raises(ValueError, match="the SavedModel model.pb is a file"):
        check_folder(tmp_path / "model.pb")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "saved_model.pbtxt").write_text("meta_graphs {}")
    with pytest.raises(ValueError, match=r"the folder text is not a TensorFlow SavedModel: it has no saved_model.pb "
                                         r"\(saved_model.pbtxt, the text form, is not read\)"):
        check_folder(tmp_path / "text")
    link = tmp_path / "linked"
    (link / "variables").mkdir(parents=True)
    (link / "saved_model.pb").write_bytes(b"")
    (link / "variables" / "variables.index").symlink_to("/etc/hostname")
    with pytest.raises(ValueError, match=r"the SavedModel linked holds a link \(variables/variables.index\)"):
        check_folder(link)


def test_missing_extra_names_it(tmp_path, monkeypatch):
    import deepnodes.dl.formats.tf_env as tf_env

    real = importlib.util.find_spec
    monkeypatch.setattr(tf_env.importlib.util, "find_spec", lambda n, *a: None if n == "tf2onnx" else real(n, *a))
    with pytest.raises(ValueError, match=r"reading a TensorFlow SavedModel needs TensorFlow \(tf2onnx not installed\); "
                                         r'install the extra: pip install "deepnodes\[tensorflow\]"'):
        import_savedmodel(tmp_path)


def test_the_test_process_never_imported_tensorflow():
    assert "tensorflow" not in sys.modules and "tf2onnx" not in sys.modules


@pytest.mark.parametrize("model,width,output,backend", [("dense", 4, "probabilities", "onnxruntime"),
                                                        ("lgamma", 3, "y", "tensorflow")])
def test_a_savedmodel_is_served_by_serve_workflow(models, tmp_path, model, width, output, backend):
    """Both paths: the reader's saved result (an ONNX model, or a copy of the SavedModel run by TensorFlow) is what
    the service loads; it answers like the SavedModel read directly."""
    sys.path.insert(0, str(HERE.parent / "service"))
    from service_http_util import CLI, ENV, post, start, stop

    registry.discover()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"][:width]
    wf = Workflow("savedmodel service")
    wf.add("deepnodes.dl.NetworkReader", "reader", {"path": str(models / model)})
    wf.add("deepnodes.service.ServiceInput", "request", {
        "columns": [{"name": n, "kind": "number"} for n in names], "example": dict.fromkeys(names, 1.0)})
    wf.add("deepnodes.dl.NetworkExecutor", "exec", {"inputs": [{"columns": names, "converter": "numbers"}],
                                                    "keep_columns": False, "append_class": False})
    wf.add("deepnodes.service.ServiceOutput", "response", {"columns": [output]})
    wf.connect("reader", "network", "exec", "network")
    wf.connect("request", "table", "exec", "table")
    wf.connect("exec", "table", "response", "table")
    path = tmp_path / "served.json"
    wf.save(path)
    r = subprocess.run(CLI + ["run", str(path), "--save-results", "--quiet"], env=ENV, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    saved = [p.name for p in (tmp_path / "served.results").rglob("*") if p.parent.name == "reader"]
    assert any(n.endswith(".onnx" if backend == "onnxruntime" else ".savedmodel") for n in saved), saved
    rows = [[5.1, 3.5, 1.4, 0.2][:width], [6.7, 3.0, 5.2, 2.3][:width]]
    if model == "lgamma":
        want = np.array([[2 * math.lgamma(v + 1) for v in row] for row in rows], np.float32)
    else:  # what TensorFlow gives, through the reader's ONNX Runtime path checked against it in the first test
        want = import_savedmodel(models / model).forward(torch.tensor(rows))[0].numpy()
    proc, url = start(path, "--token", "t0ken")
    try:
        resp = post(url, {"rows": [dict(zip(names, row)) for row in rows]}, token="t0ken")
    finally:
        stop(proc)
    assert resp.status_code == 200, resp.text
    got = np.array([row[output] for row in resp.json()["rows"]], dtype=np.float32)
    assert np.max(np.abs(got - want)) <= 1e-5
