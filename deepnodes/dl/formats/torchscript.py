"""TorchScript: `export_torchscript(network, path)` traces the module (dynamic batch), stores the spec and metadata
inside the archive, and checks the reloaded module against the original; `import_torchscript(path)` reads such an
archive back as an opaque network. TorchScript archives hold TorchScript code and tensors, not Python pickles of
arbitrary classes."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from ..spec import NetworkSpec
from .onnx import ExportError, _Tuple, example_inputs

SPEC_FILE = "deepnodes_spec.json"
META_FILE = "deepnodes_metadata.json"


def export_torchscript(network, path: str | Path, tolerance: float = 1e-5) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = _Tuple(network.inference_module()).eval()  # a view: the input network is not changed
    xs = example_inputs(network.spec.inputs)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
    try:
        with torch.no_grad():
            traced = torch.jit.trace(module, xs, check_trace=False)
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"the network cannot be traced to TorchScript: {type(e).__name__}: "
                          f"{str(e).strip().splitlines()[0][:300]}") from e
    spec = network.spec.with_(layers=(), output_layers=())
    extra = {SPEC_FILE: json.dumps(spec.to_json()), META_FILE: json.dumps(network.metadata, default=str)}
    torch.jit.save(traced, str(path), _extra_files=extra)
    loaded = torch.jit.load(str(path), map_location="cpu")
    xs2 = example_inputs(network.spec.inputs, batch=3, var=7, seed=1)
    with torch.no_grad():
        want, got = module(*xs2), loaded(*xs2)
    for w, g in zip(want, got):
        if w.shape != g.shape or not torch.allclose(w.float(), g.float(), atol=tolerance, rtol=tolerance):
            raise ExportError("the TorchScript module's outputs differ from the network's (the network's control flow "
                              "depends on its input, which tracing cannot record)")
    return path


class TorchScriptModule(torch.nn.Module):
    def __init__(self, scripted):
        super().__init__()
        self.scripted = scripted

    def forward(self, *xs):
        y = self.scripted(*xs)
        return tuple(y) if isinstance(y, (list, tuple)) else (y,)


def import_torchscript(path: str | Path):
    from ..network import Network

    path = Path(path)
    if not path.exists():
        raise ValueError(f"there is no TorchScript file at {path}")
    extra = {SPEC_FILE: "", META_FILE: ""}
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
    try:
        m = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{path.name} is not a readable TorchScript archive ({str(e).splitlines()[0][:200]})") from None
    if not extra[SPEC_FILE]:
        raise ValueError(f"the TorchScript file {path.name} was not written by DeepNodes, so its inputs and outputs are "
                         "unknown; write it with the Network Writer or read it in a Python script node")
    spec = NetworkSpec.from_json(json.loads(extra[SPEC_FILE]))
    meta = json.loads(extra[META_FILE] or "{}")
    meta["source"] = str(path)
    meta.pop("factory", None)
    return Network(spec, module=TorchScriptModule(m), metadata=meta)
