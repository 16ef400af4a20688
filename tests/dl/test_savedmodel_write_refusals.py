"""SavedModel / TFLite export refusals: one sentence naming the layer, tensor, option or file, before anything is
written and before TensorFlow is started (these tests never start it: its child process is replaced by a trap)."""
import importlib.util
import os
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st

os.environ.setdefault("KERAS_BACKEND", "torch")
if importlib.util.find_spec("keras") is None:
    pytest.skip("keras is not installed", allow_module_level=True)  # a failure under CI=true

from deepnodes.dl import graph  # noqa: E402
from deepnodes.dl.build import LayerBuilder  # noqa: E402
from deepnodes.dl.formats import savedmodel_write as smw  # noqa: E402
from deepnodes.dl.formats import tf_env  # noqa: E402
from deepnodes.dl.formats.keras_export import CONVERTERS  # noqa: E402
from deepnodes.dl.formats.onnx import ExportError  # noqa: E402
from deepnodes.dl.network import Network  # noqa: E402
from deepnodes.dl.spec import NetworkSpec, TensorSpec  # noqa: E402

#: layers and a small input each; the tests use those the Keras export has no converter for (today most of them)
CANDIDATES = [
    ("GaussianNoise", [6], {"stddev": 0.1}), ("AlphaDropout", [6], {"rate": 0.1}), ("PReLU", [6], {}),
    ("Softmax", [6], {}), ("RepeatVector", [6], {"n": 2}), ("Reshape", [6], {"target_shape": [2, 3]}),
    ("Permute", [2, 3], {"dims": [2, 1]}), ("Masking", [4, 3], {}), ("Cropping1D", [6, 2], {"cropping": [1, 1]}),
    ("ZeroPadding1D", [6, 2], {"padding": 1}), ("UpSampling1D", [6, 2], {"size": 2}),
    ("Conv1DTranspose", [6, 2], {"filters": 2, "kernel_size": 3}),
    ("SeparableConv1D", [6, 2], {"filters": 2, "kernel_size": 3}), ("DepthwiseConv2D", [2, 6, 6], {"kernel_size": 3}),
    ("SpatialDropout1D", [6, 2], {"rate": 0.1}), ("LeakyReLU", [6], {}), ("ELU", [6], {}), ("ReLU", [6], {}),
    ("SinePositionEncoding", [6, 4], {}), ("GaussianDropout", [6], {"rate": 0.1}), ("UpSampling2D", [2, 4, 4], {}),
    ("ZeroPadding2D", [2, 4, 4], {}), ("Cropping2D", [2, 6, 6], {"cropping": [[1, 1], [1, 1]]}),
    ("Conv2DTranspose", [2, 4, 4], {"filters": 2, "kernel_size": 3}),
    ("SeparableConv2D", [2, 6, 6], {"filters": 2, "kernel_size": 3}),
]
UNCONVERTED = [c for c in CANDIDATES if c[0] not in CONVERTERS]
WRITERS = {"savedmodel": (smw.export_savedmodel, "net"), "tflite": (smw.export_tflite, "net.tflite")}


@pytest.fixture(autouse=True)
def no_tensorflow(monkeypatch):
    """Any attempt to start TensorFlow fails the test: every refusal comes first."""
    def trap(*a, **k):
        raise AssertionError("TensorFlow was started for a network that had to be refused first")
    monkeypatch.setattr(smw, "_tf_worker", trap)


def test_enough_layers_without_a_counterpart_to_test():
    assert len(UNCONVERTED) >= 5, "extend CANDIDATES with layers the Keras export cannot write yet"


@settings(max_examples=40)
@given(layer=st.sampled_from(UNCONVERTED), before=st.integers(0, 2), after=st.integers(0, 2),
       fmt=st.sampled_from(sorted(WRITERS)))
def test_a_layer_without_counterpart_is_named_before_anything_is_written(layer, before, after, fmt):
    kind, shape, cfg = layer
    s = graph.input_spec(shape)
    for _ in range(before):  # layers Keras can write, before and after the one it cannot
        s, _ = graph.append_layer([s], "Dropout", {"rate": 0.1})
    s, _ = graph.append_layer([s], kind, cfg)
    name = s.layers[-1].name
    for i in range(after):
        s, _ = graph.append_layer([s], "Activation", {"activation": "tanh"} if i % 2 else {"activation": "relu"})
    net = Network(s, builder=LayerBuilder(seed=0))
    write, target = WRITERS[fmt]
    with tempfile.TemporaryDirectory() as d:
        with pytest.raises(ExportError, match=rf"^layer '{name}' \({kind}\) has no Keras counterpart"):
            write(net, Path(d) / target)
        assert os.listdir(d) == []


def test_a_scripted_module_is_refused_in_a_sentence(tmp_path):
    spec = NetworkSpec((TensorSpec("x", (4,), "float32"),), (TensorSpec("y", (2,), "float32"),))
    net = Network(spec, module=torch.nn.Linear(4, 2))
    for fmt, (write, target) in WRITERS.items():
        with pytest.raises(ExportError, match="needs a network built from layer nodes"):
            write(net, tmp_path / target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["my input", "_hidden", "x:0", "ü", ""])
def test_a_tensor_name_a_signature_cannot_carry_is_named(tmp_path, bad):
    s, _ = graph.append_layer([graph.input_spec([3])], "Dense", {"units": 2})
    net = Network(s.with_(inputs=(TensorSpec(bad, (3,), "float32"),)), builder=LayerBuilder(seed=0))
    with pytest.raises(ExportError, match=f"the network's input '{bad}' cannot name a tensor"):
        smw.export_savedmodel(net, tmp_path / "n")
    renamed = Network(s.with_(outputs=(TensorSpec(bad, (2,), "float32"),)), builder=LayerBuilder(seed=0))
    with pytest.raises(ExportError, match=f"the network's output '{bad}' cannot name a tensor"):
        smw.export_tflite(renamed, tmp_path / "n.tflite")
    assert list(tmp_path.iterdir()) == []


def _dense():
    s, _ = graph.append_layer([graph.input_spec([3])], "Dense", {"units": 2})
    return Network(s, builder=LayerBuilder(seed=0))


def test_what_is_not_ours_is_never_replaced(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("mine")
    with pytest.raises(ExportError, match="is not empty and is not a SavedModel"):
        smw.export_savedmodel(_dense(), notes)
    assert (notes / "a.txt").read_text() == "mine"
    other = tmp_path / "model.tflite"
    other.write_text("not a flatbuffer")
    with pytest.raises(ExportError, match="is not a TFLite model"):
        smw.export_tflite(_dense(), other)
    assert other.read_text() == "not a flatbuffer"
    with pytest.raises(ExportError, match="must end in .tflite"):
        smw.export_tflite(_dense(), tmp_path / "model.lite")
    with pytest.raises(ExportError, match="layout 'nchw' is not one of network, channels_last"):
        smw.export_savedmodel(_dense(), tmp_path / "n", layout="nchw")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite", "notes"]


def test_without_the_extra_the_sentence_says_which_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(tf_env.importlib.util, "find_spec", lambda n, *a: None if n == "tensorflow" else real(n, *a))
    for fmt, (write, target) in WRITERS.items():
        with pytest.raises(ValueError, match=r'needs TensorFlow .*pip install "deepnodes\[tensorflow\]"'):
            write(_dense(), tmp_path / target)
    assert list(tmp_path.iterdir()) == []


def test_network_writer_node_names_the_layer(tmp_path):
    from deepnodes.core.node import NodeError
    from deepnodes.nodes.dl.network_files import NetworkWriter

    s, _ = graph.append_layer([graph.input_spec([6])], "GaussianNoise", {"stddev": 0.1})
    net = Network(s, builder=LayerBuilder(seed=0))
    for fmt, target in (("savedmodel", "sm"), ("tflite", "n.tflite")):
        with pytest.raises(NodeError, match=r"layer 'gaussian_noise_1' \(GaussianNoise\)"):
            NetworkWriter({"path": str(tmp_path / target), "format": fmt}).execute([net], None)
    assert list(tmp_path.iterdir()) == []


KEEP_OUT = r"""
import sys
from deepnodes.dl import graph
from deepnodes.dl.build import LayerBuilder
from deepnodes.dl.formats.keras import import_keras
from deepnodes.dl.formats.keras_export import export_keras
from deepnodes.dl.network import Network
from deepnodes.dl.tracking import TensorBoardLogger
s, _ = graph.append_layer([graph.input_spec([3])], "Dense", {"units": 2})
import_keras(export_keras(Network(s, builder=LayerBuilder(seed=0)), sys.argv[1] + "/n.keras"))
logger = TensorBoardLogger(sys.argv[1] + "/runs")
logger.writer.add_scalar("loss", 1.0, 1)
logger.writer.close()
print("tensorflow" in sys.modules)
"""


@pytest.mark.slow
def test_keras_and_tensorboard_never_import_tensorflow_into_the_torch_process(tmp_path):
    """Both import TensorFlow by themselves when it is installed (Keras on every save, TensorBoard on import)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", KEEP_OUT, str(tmp_path)], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, KERAS_BACKEND="torch"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "False"
    assert list((tmp_path / "runs").iterdir())  # the event file was written (by TensorBoard's stub of TF)


@pytest.mark.parametrize("vocabulary", [1, 2, 3, 7])
def test_exports_check_a_small_vocabulary_with_ids_it_has(tmp_path, vocabulary):
    """The exports' example inputs draw ids below the smallest Embedding's vocabulary reading them (0..9 before,
    so a network with fewer ids failed its own export check with an IndexError)."""
    from deepnodes.dl.formats.onnx import example_inputs, export_onnx
    from deepnodes.dl.formats.torchscript import export_torchscript

    s, _ = graph.append_layer([graph.input_spec([4], "int64", name="ids")], "Embedding",
                              {"input_dim": vocabulary, "output_dim": 3})
    s, _ = graph.append_layer([s], "Flatten", {})
    net = Network(s, builder=LayerBuilder(seed=0))
    (x,) = example_inputs(net.spec.inputs, batch=50, layers=net.spec.layers)
    assert int(x.max()) < vocabulary
    assert export_onnx(net, tmp_path / "e.onnx").is_file()
    assert export_torchscript(net, tmp_path / "e.pt").is_file()
