"""TorchScript: `export_torchscript(network, path)` traces the module (dynamic batch), stores the spec and metadata
inside the archive, and checks the reloaded module against the original before the file replaces an old one (an
existing file that is not a TorchScript archive is never replaced); `import_torchscript(path)` reads such an
archive back as an opaque network. TorchScript archives hold TorchScript code and tensors, not Python pickles of
arbitrary classes."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from deepnodes.core.atomic_files import RefusedWrite, replace_file
from deepnodes.core.bounded_zip import check_zip

from .onnx import ExportError, _Tuple, example_inputs

SPEC_FILE = "deepnodes_spec.json"
META_FILE = "deepnodes_metadata.json"


def export_torchscript(network, path: str | Path, tolerance: float = 1e-5) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = _Tuple(network.inference_module()).eval()  # a view: the input network is not changed
    xs = example_inputs(network.spec.inputs, layers=network.spec.layers)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
    try:
        with torch.no_grad():
            traced = torch.jit.trace(module, xs, check_trace=False)
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"the network cannot be traced to TorchScript: {type(e).__name__}: "
                          f"{str(e).strip().splitlines()[0][:300]}") from e
    spec = network.spec.with_(layers=(), output_layers=())
    extra = {SPEC_FILE: json.dumps(spec.to_json()), META_FILE: json.dumps(network.metadata, default=str)}
    xs2 = example_inputs(network.spec.inputs, batch=3, var=7, seed=1, layers=network.spec.layers)

    def verify(tmp: Path) -> None:
        loaded = torch.jit.load(str(tmp), map_location="cpu")
        with torch.no_grad():
            want, got = module(*xs2), loaded(*xs2)
        for w, g in zip(want, got):
            if w.shape != g.shape or not torch.allclose(w.float(), g.float(), atol=tolerance, rtol=tolerance):
                raise ExportError("the TorchScript module's outputs differ from the network's (the network's control "
                                  "flow depends on its input, which tracing cannot record)")

    try:
        replace_file(path, lambda tmp: torch.jit.save(traced, str(tmp), _extra_files=extra), verify,
                     owned=is_torchscript, what="TorchScript archive")
    except RefusedWrite as e:
        raise ExportError(str(e)) from None
    return path


def is_torchscript(path: Path) -> bool:
    """A TorchScript archive: a zip holding a `data.pkl` and `code/` (what torch.jit.save writes)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/data.pkl") or n == "data.pkl" for n in names)


class TorchScriptModule(torch.nn.Module):
    def __init__(self, scripted):
        super().__init__()
        self.scripted = scripted

    def forward(self, *xs):
        y = self.scripted(*xs)
        return tuple(y) if isinstance(y, (list, tuple)) else (y,)


def save_scripted(network, path: Path) -> Path:
    """A TorchScript network (read from an archive) saved with `torch.jit.save`, its spec and metadata inside."""
    extra = {SPEC_FILE: json.dumps(network.spec.to_json()), META_FILE: json.dumps(network.metadata, default=str)}
    scripted = network.module.scripted
    return replace_file(path, lambda tmp: torch.jit.save(scripted, str(tmp), _extra_files=extra),
                        lambda tmp: torch.jit.load(str(tmp), map_location="cpu"))


def import_torchscript(path: str | Path, source: bool = True):
    """A TorchScript archive written by DeepNodes as an opaque network (`source`: record the path in metadata)."""
    from ..network import Network

    path = Path(path)
    if not path.exists():
        raise ValueError(f"there is no TorchScript file at {path}")
    extra = {SPEC_FILE: "", META_FILE: ""}
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
    check_zip(path, "TorchScript file")  # sizes screened before torch reads anything
    try:
        m = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{path.name} is not a readable TorchScript archive ({str(e).splitlines()[0][:200]})") from None
    if not extra[SPEC_FILE]:
        raise ValueError(f"the TorchScript file {path.name} was not written by DeepNodes, so its inputs and outputs are "
                         "unknown; write it with the Network Writer or read it in a Python script node")
    from .native_files import metadata_from_json, spec_from_json

    spec = spec_from_json(extra[SPEC_FILE], f"the TorchScript file {path.name}")
    meta = metadata_from_json(extra[META_FILE] or "{}", f"the TorchScript file {path.name}")
    if source:
        meta["source"] = str(path)
    meta.pop("factory", None)
    return Network(spec, module=TorchScriptModule(m), metadata=meta)
