"""The `network` port's handler (`NETWORK_IO`): saved results, specs, and the layer table that `deepnodes run
--report` and the Network View node show.

Saved results: a network DeepNodes can describe is saved in the native format (`.dnn`); a TorchScript network
with `torch.jit.save` (`.pt`, spec and metadata inside); an ONNX network as its ONNX model (`.onnx`, spec and
metadata in its metadata properties); a SavedModel network run by TensorFlow as a copy of its folder
(`.savedmodel`, screened again without trust when read back). A network holding a torch module that none of these can describe (a module
class defined in a script) is not pickled: `save` raises `NetworkFormatError` saying why, and the engine leaves
that node's results unsaved. Reading back never unpickles unless `DEEPNODES_TRUST_PICKLE=1` (results folders
written by older versions may hold pickled modules).
"""
from __future__ import annotations

from pathlib import Path

from .formats.native import load_network, save_network
from .spec import fmt_shape


def layer_table(network) -> list[dict]:
    """One row per layer: name, kind, output shape(s), trainable and frozen parameter counts. Built on a
    temporary module when the network has not been built yet (the network itself is left as it was)."""
    from .build import LayerBuilder

    spec = network.spec
    if network.built:
        module = network.module
    elif isinstance(network._builder, LayerBuilder) or network._builder is None:
        module = (network._builder or LayerBuilder())(spec) if spec.layers else None
    else:
        module = network.module
    rows = []
    if not spec.layers:
        t, f = _count(module) if module is not None else (0, 0)
        rows.append({"layer": "(module)", "kind": type(module).__name__ if module is not None else "module",
                     "output_shape": ", ".join(fmt_shape(o.shape) for o in spec.outputs),
                     "trainable_params": t, "frozen_params": f})
        return rows
    for layer in spec.layers:
        try:
            sub = module.get_submodule(layer.name) if module is not None else None
        except AttributeError:  # a module that does not name its layers (a script's or a traced one)
            sub = None
        t, f = _count(sub) if sub is not None else (0, 0)
        rows.append({"layer": layer.name, "kind": layer.kind,
                     "output_shape": ", ".join(fmt_shape(o.shape) for o in layer.outputs),
                     "trainable_params": t, "frozen_params": f})
    return rows




class _NetworkIO:
    def save(self, network, path: str) -> str:
        from .formats.onnx import OnnxModule, save_onnx_module
        from .formats.torchscript import TorchScriptModule, save_scripted

        module = network.module if network.built and not network.spec.layers else None
        if isinstance(module, TorchScriptModule):
            return save_scripted(network, Path(path + ".pt")).name
        if isinstance(module, OnnxModule):
            return save_onnx_module(network, Path(path + ".onnx")).name
        from .formats.savedmodel_read import TFModule, save_tf_network

        if isinstance(module, TFModule):  # a SavedModel run by TensorFlow: a copy of its folder
            return save_tf_network(network, Path(path + ".savedmodel")).name
        return save_network(network, Path(path + ".dnn")).name

    def load(self, path: str):
        import os

        p = Path(path)
        if p.suffix == ".pt":
            from .formats.torchscript import import_torchscript

            return import_torchscript(p, source=False)
        if p.suffix == ".onnx":
            from .formats.onnx import import_onnx

            return import_onnx(p, source=False)
        if p.suffix == ".savedmodel":
            from .formats.savedmodel_read import load_tf_network

            return load_tf_network(p)
        return load_network(p, trust=os.environ.get("DEEPNODES_TRUST_PICKLE") == "1")

    def spec_of(self, network):
        return network.spec

    def summary(self, network) -> dict:
        rows = layer_table(network)
        return {"inputs": [t.describe() for t in network.spec.inputs],
                "outputs": [t.describe() for t in network.spec.outputs],
                "layers": rows,
                "trainable_params": sum(r["trainable_params"] for r in rows),
                "frozen_params": sum(r["frozen_params"] for r in rows)}


NETWORK_IO = _NetworkIO()


def export_onnx(network, path, opset: int = 17, **kw):
    """See `deepnodes.dl.formats.onnx.export_onnx`."""
    from .formats.onnx import export_onnx as f

    return f(network, path, opset=opset, **kw)


def _count(module) -> tuple[int, int]:
    from .build import count_params  # torch: only once there is a module to count

    return count_params(module)


__all__ = ["NETWORK_IO", "save_network", "load_network", "export_onnx", "layer_table"]
