"""Network formats: native (spec JSON + safetensors + metadata JSON), ONNX export, TorchScript export and
Keras `.keras` import. Each submodule imports torch; import them lazily from nodes."""
from __future__ import annotations


def export_onnx(network, path, opset: int = 17, **kw):
    """See `deepnodes.dl.formats.onnx.export_onnx`."""
    from .onnx import export_onnx as f

    return f(network, path, opset=opset, **kw)
