"""SavedModel and TFLite export: what the Network Writer writes is read back by TensorFlow itself (a separate
process, as a TensorFlow user or TF Serving reads it) and predicts what DeepNodes predicts; refusals come before
anything is written; a failure leaves what was there."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
if importlib.util.find_spec("tensorflow") is None:  # looked up, not imported: this process never imports it
    pytest.skip("the tensorflow extra is not installed", allow_module_level=True)  # a failure under CI=true

from deepnodes.dl import graph  # noqa: E402
from deepnodes.dl.build import LayerBuilder  # noqa: E402
from deepnodes.dl.formats import savedmodel_write as smw  # noqa: E402
from deepnodes.dl.formats.onnx import ExportError  # noqa: E402
from deepnodes.dl.network import Network  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from hypothesis import HealthCheck, event, given, settings, strategies as st  # noqa: E402
from test_keras_export import _flagship_network, _image_chains  # noqa: E402

#: run in a separate python with TensorFlow: reads each artefact and predicts the given inputs
TF_READER = r"""
import json, sys
import numpy as np
import tensorflow as tf
job = json.loads(sys.argv[1])
out = {}
for kind, path, inputs in job["files"]:
    xs = dict(np.load(inputs))
    if kind == "savedmodel":
        sig = tf.saved_model.load(path).signatures["serving_default"]
        ins = {k: [None if d is None else int(d) for d in v.shape] + [v.dtype.name]
               for k, v in sig.structured_input_signature[1].items()}
        ys = {k: v.numpy() for k, v in sig(**{k: tf.constant(xs[k]) for k in ins}).items()}
    else:
        it = tf.lite.Interpreter(model_path=path)
        run = it.get_signature_runner("serving_default")
        ins = {k: [int(x) for x in d["shape_signature"]] for k, d in run.get_input_details().items()}
        ys = run(**{k: xs[k] for k in ins})
    out[path] = {"inputs": ins, "outputs": {k: np.asarray(v).tolist() for k, v in ys.items()}}
print(json.dumps(out))
"""


def tf_predict(files: list[tuple[str, Path, dict[str, np.ndarray]]], tmp_path: Path) -> dict:
    """{path: {"inputs": signature inputs, "outputs": {name: values}}} for each (kind, path, inputs by name)."""
    job = []
    for i, (kind, path, inputs) in enumerate(files):
        np.savez(tmp_path / f"inputs{i}.npz", **inputs)
        job.append((kind, str(path), str(tmp_path / f"inputs{i}.npz")))
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    job = json.dumps({"files": job})
    r = subprocess.run([sys.executable, "-c", TF_READER, job], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _torch_predict(net, *xs):
    with torch.no_grad():
        ys = net.inference_module()(*[torch.from_numpy(x) for x in xs])
    return [y.numpy() for y in (ys if isinstance(ys, tuple) else (ys,))]


def _chain(shape, layers, seed=5):
    s = graph.input_spec(shape)
    for kind, cfg in layers:
        s, _ = graph.append_layer([s], kind, cfg)
    return Network(s, builder=LayerBuilder(seed=seed))


@pytest.mark.slow
def test_flagship_cnn_as_savedmodel_and_tflite_predicts_like_deepnodes(tmp_path):
    net = _flagship_network()
    with torch.no_grad():  # weights that are not an initialiser's: biases too
        for p in net.module.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.05)
    net.weights_changed()
    sm = smw.export_savedmodel(net, tmp_path / "cnn")
    lite = smw.export_tflite(net, tmp_path / "cnn.tflite")
    sm_last = smw.export_savedmodel(net, tmp_path / "cnn_nhwc", layout="channels_last")
    assert sorted(p.name for p in sm.iterdir()) == ["assets", "deepnodes.json", "fingerprint.pb", "saved_model.pb",
                                                   "variables"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary sibling left
    x = np.random.default_rng(11).random((5, 1, 28, 28), dtype=np.float32)  # inputs the writer never saw
    (want,) = _torch_predict(net, x)
    x_last = np.moveaxis(x, 1, -1).copy()
    got = tf_predict([("savedmodel", sm, {"image": x}), ("tflite", lite, {"image": x}),
                      ("savedmodel", sm_last, {"image": x_last})], tmp_path)
    assert got[str(sm)]["inputs"] == {"image": [None, 1, 28, 28, "float32"]}  # the network's names and layout
    assert got[str(lite)]["inputs"] == {"image": [-1, 1, 28, 28]}
    for path in (sm, lite):
        probs = np.asarray(got[str(path)]["outputs"]["dense_1"], dtype=np.float32)
        assert probs.shape == (5, 10)
        assert np.max(np.abs(probs - want)) < 1e-5
        assert (probs.argmax(1) == want.argmax(1)).all()
    assert got[str(sm_last)]["inputs"] == {"image": [None, 28, 28, 1, "float32"]}  # TensorFlow's layout
    assert np.max(np.abs(np.asarray(got[str(sm_last)]["outputs"]["dense_1"]) - want)) < 1e-5
    meta = json.loads((sm / "deepnodes.json").read_text())
    assert meta["layout"] == "network" and [t["name"] for t in meta["spec"]["outputs"]] == ["dense_1"]
    assert "tensorflow" not in sys.modules  # the writing ran in TensorFlow's own child process


@pytest.mark.slow
def test_two_inputs_and_an_image_output_keep_names_and_layouts(tmp_path):
    img = graph.input_spec([2, 6, 6], name="pixels")
    vec = graph.input_spec([3], name="extra")
    conv, _ = graph.append_layer([img], "Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"})
    feat, _ = graph.append_layer([conv], "GlobalAveragePooling2D", {})
    both, _ = graph.append_layer([feat, vec], "Concatenate", {"axis": -1})
    head, _ = graph.append_layer([both], "Dense", {"units": 2, "activation": "sigmoid"})
    spec = head.with_(outputs=head.outputs + conv.outputs, output_layers=head.output_layers + conv.output_layers)
    net = Network(spec, builder=LayerBuilder(seed=1))
    out_names = [t.name for t in net.spec.outputs]
    sm = smw.export_savedmodel(net, tmp_path / "two")
    lite = smw.export_tflite(net, tmp_path / "two.tflite", layout="channels_last")
    rng = np.random.default_rng(3)
    x1, x2 = rng.random((4, 2, 6, 6), dtype=np.float32), rng.random((4, 3), dtype=np.float32)
    want = dict(zip(out_names, _torch_predict(net, x1, x2)))
    both = tf_predict([("savedmodel", sm, {"pixels": x1, "extra": x2}),
                       ("tflite", lite, {"pixels": np.moveaxis(x1, 1, -1).copy(), "extra": x2})], tmp_path)
    got = both[str(sm)]
    assert set(got["inputs"]) == {"pixels", "extra"} and set(got["outputs"]) == set(out_names)
    for n in out_names:
        assert np.max(np.abs(np.asarray(got["outputs"][n]) - want[n])) < 1e-5
    got = both[str(lite)]
    fmap = np.asarray(got["outputs"][out_names[1]])
    assert fmap.shape == (4, 6, 6, 4)  # channels last, as asked
    assert np.max(np.abs(np.moveaxis(fmap, -1, 1) - want[out_names[1]])) < 1e-5


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_a_failed_write_leaves_what_was_there(tmp_path, monkeypatch):
    net = _chain([4], [("Dense", {"units": 3, "activation": "relu"}), ("Dense", {"units": 2})])
    sm, lite = smw.export_savedmodel(net, tmp_path / "sm"), smw.export_tflite(net, tmp_path / "n.tflite")
    before, lite_before = _tree(sm), lite.read_bytes()
    other = _chain([4], [("Dense", {"units": 2, "activation": "sigmoid"})], seed=9)
    for write, path in ((smw.export_savedmodel, sm), (smw.export_tflite, lite)):
        # a check that cannot pass: what TensorFlow wrote differs "too much" from the network, so it is not kept
        with pytest.raises(ExportError, match="differs from DeepNodes' by .* nothing was written"):
            write(other, path, tolerance=-1.0)
    from deepnodes.core import Cancelled
    from deepnodes.nodes.dl.network_files import NetworkWriter

    class Cancelling:  # the run is cancelled while TensorFlow writes: its child is stopped, nothing is kept
        def check_cancelled(self):
            raise Cancelled()

    with pytest.raises(Cancelled):
        NetworkWriter({"path": str(sm), "format": "savedmodel"}).execute([other], Cancelling())
    monkeypatch.setattr(smw, "TIMEOUT", 0.5)  # TensorFlow stopped mid-write by the time limit (its child too)
    with pytest.raises(ExportError, match="did not finish within 0.5 s"):
        smw.export_savedmodel(other, sm)
    assert _tree(sm) == before and lite.read_bytes() == lite_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.tflite", "sm"]  # no temporary sibling left


@pytest.mark.slow
def test_a_keras_import_is_written_by_the_node_and_read_back_by_the_reader(tmp_path):
    from deepnodes.dl.formats.keras import import_keras
    from deepnodes.dl.formats.keras_export import export_keras
    from deepnodes.dl.formats.savedmodel_read import import_savedmodel
    from deepnodes.nodes.dl.network_files import NetworkWriter

    layered = _chain([5], [("Dense", {"units": 4, "activation": "tanh"}), ("Dense", {"units": 3,
                                                                                      "activation": "softmax"})])
    imported = import_keras(export_keras(layered, tmp_path / "k.keras"))  # Keras' own model, on torch
    logs = []

    class Ctx:
        def log(self, line, *_):
            logs.append(line)

    target = tmp_path / "from_keras"
    NetworkWriter({"path": str(target), "format": "savedmodel"}).execute([imported], Ctx())
    assert logs == [f"wrote {target}"]
    x = np.random.default_rng(5).random((6, 5), dtype=np.float32)
    (want,) = _torch_predict(imported, x)
    back = import_savedmodel(target)  # the Network Reader's format savedmodel
    assert [t.name for t in back.spec.inputs] == [t.name for t in imported.spec.inputs]
    assert [t.name for t in back.spec.outputs] == [t.name for t in imported.spec.outputs]
    (got,) = back.forward(torch.from_numpy(x))
    assert np.max(np.abs(got.numpy() - want)) < 1e-5


@pytest.mark.slow
def test_a_variable_length_sequence_net_is_a_savedmodel_and_tflite_names_the_layer_it_cannot_convert(tmp_path):
    s = graph.input_spec([None], "int64", name="tokens")
    for kind, cfg in [("Embedding", {"input_dim": 20, "output_dim": 4}), ("LSTM", {"units": 5}),
                      ("Dense", {"units": 2, "activation": "softmax"})]:
        s, _ = graph.append_layer([s], kind, cfg)
    net = Network(s, builder=LayerBuilder(seed=1))
    smw.export_savedmodel(net, tmp_path / "seq")  # int64 ids of any length, checked within 1e-5 inside
    meta = json.loads((tmp_path / "seq" / "deepnodes.json").read_text())
    assert meta["spec"]["inputs"][0]["shape"] == [None] and meta["spec"]["inputs"][0]["dtype"] == "int64"
    # Keras' LSTM loops with a TensorList that TFLite's built-in ops cannot hold: one sentence, no file
    with pytest.raises(ExportError, match=r"^the TFLite converter cannot convert layer 'lstm_1' at TensorFlow op "
                                          r"TensorListReserve with TFLite's built-in ops \(a recurrent loop over a "
                                          r"sequence of variable length"):
        smw.export_tflite(net, tmp_path / "seq.tflite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seq"]
    # with a fixed length the recurrent layers are unrolled for TFLite, and it predicts like DeepNodes
    s = graph.input_spec([7], "int64", name="tokens")
    for kind, cfg in [("Embedding", {"input_dim": 3, "output_dim": 4}),  # fewer ids than the example's 10
                      ("LSTM", {"units": 5, "return_sequences": True}), ("GRU", {"units": 3}),
                      ("Dense", {"units": 2, "activation": "softmax"})]:
        s, _ = graph.append_layer([s], kind, cfg)
    fixed = Network(s, builder=LayerBuilder(seed=2))
    lite = smw.export_tflite(fixed, tmp_path / "fixed.tflite")
    x = np.random.default_rng(4).integers(0, 3, (5, 7)).astype(np.int64)
    (want,) = _torch_predict(fixed, x)
    got = tf_predict([("tflite", lite, {"tokens": x})], tmp_path)[str(lite)]
    assert np.max(np.abs(np.asarray(got["outputs"][fixed.spec.outputs[0].name]) - want)) < 1e-5


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_image_chains(), st.sampled_from(["savedmodel", "tflite"]), st.sampled_from(smw.LAYOUTS))
def test_random_image_chains_are_written_and_checked_by_tensorflow_or_refused_in_a_sentence(tmp_path, chain, fmt,
                                                                                             layout):
    """The writer's own check is TensorFlow reading the artefact back and matching the network within 1e-5."""
    shape, layers = chain
    try:
        net = _chain(shape, layers)
        net.spec  # noqa: B018 - a chain whose shapes do not fit is not a network
    except ValueError:
        event("shapes do not fit")
        return
    target = tmp_path / ("r.tflite" if fmt == "tflite" else "r")
    try:
        (smw.export_tflite if fmt == "tflite" else smw.export_savedmodel)(net, target, layout=layout)
    except ExportError as e:
        assert str(e).startswith(("layer '", "the TFLite converter")) and "\n" not in str(e), str(e)
        event("refused")
        return
    event("written")
    assert target.exists()
