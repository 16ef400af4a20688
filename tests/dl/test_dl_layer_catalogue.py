"""Every layer kind of the catalogue: inferred output shapes against the real module's, through the shared helper."""
import sys

import pytest

from deepnodes.dl.layers import get_layer
from tests.dl.layer_check import BAD, check_bad, check_layer, kinds, samples

CASES = [(k, i, inp, cfg) for k in kinds() for i, (inp, cfg) in enumerate(samples(k))]


def test_every_kind_has_samples():
    missing = [k for k in kinds() if not samples(k)]
    assert not missing, f"layer kinds without samples in tests/dl/layer_check.py: {missing}"


def test_catalogue_covers_the_keras_set():
    want = """Input Dense Dropout Activation Flatten Reshape Permute RepeatVector Masking Conv1D Conv2D Conv3D
    SeparableConv1D SeparableConv2D DepthwiseConv2D Conv2DTranspose Cropping1D Cropping2D Cropping3D UpSampling1D
    UpSampling2D UpSampling3D ZeroPadding1D ZeroPadding2D ZeroPadding3D MaxPooling1D MaxPooling2D MaxPooling3D
    AveragePooling1D AveragePooling2D AveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D
    GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D Add Subtract Multiply Average Maximum
    Minimum Concatenate Dot GaussianNoise GaussianDropout AlphaDropout SpatialDropout1D SpatialDropout2D
    SpatialDropout3D ELU LeakyReLU PReLU ReLU Softmax BatchNormalization LayerNormalization Embedding SimpleRNN GRU
    LSTM Bidirectional TimeDistributed MultiHeadAttention""".split()
    assert not [k for k in want if k not in kinds()]


@pytest.mark.parametrize("kind,i,inputs,config", CASES, ids=[f"{k}-{i}" for k, i, _, _ in CASES])
def test_inferred_shape_matches_module(kind, i, inputs, config):
    check_layer(kind, inputs, config)


def test_layer_modules_do_not_import_torch_at_configure_time():
    import subprocess

    code = ("import sys; from deepnodes.dl.layers import load_all; from deepnodes.dl import graph; load_all(); "
            "s = graph.input_spec([1, 28, 28]); graph.append_layer([s], 'Conv2D', {'filters': 4}); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_kind_documents_its_layout():
    for k in kinds():
        doc = get_layer(k).doc()
        assert doc and "layout" in doc.lower(), f"{k} has no layout sentence in its docstring"


EXPORT_CASES = [c for c in CASES if c[0] != "Input"]


@pytest.mark.parametrize("kind,i,inputs,config", EXPORT_CASES, ids=[f"{k}-{i}" for k, i, _, _ in EXPORT_CASES])
def test_every_layer_exports_to_onnx(tmp_path, kind, i, inputs, config):
    """The Executor's ONNX Runtime backend needs every layer to export: checker + ORT within 1e-5 of torch."""
    from deepnodes.dl.formats.onnx import export_onnx

    from tests.dl.layer_check import single_layer_network

    export_onnx(single_layer_network(kind, inputs, config), tmp_path / "layer.onnx")


@pytest.mark.parametrize("kind,inputs,config,message", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_inputs_are_refused_in_one_sentence(kind, inputs, config, message):
    check_bad(kind, inputs, config, message)
