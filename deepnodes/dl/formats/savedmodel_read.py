"""TensorFlow SavedModel import: `import_savedmodel(path, signature="serving_default", trust=False, warn=None)`.

All TensorFlow work runs in tf_env's child process (jobs in `savedmodel_jobs`); this process never imports
TensorFlow. The child screens the SavedModel (ops that reach files, Python or the network are refused unless
trust is on: docs/security.md), loads it, describes the signature (its inputs and outputs, in sorted key order,
become the network spec; the first axis is the batch), runs it on seeded sample inputs and converts it to ONNX
with tf2onnx. The ONNX model is kept when ONNX Runtime's outputs match TensorFlow's within 1e-5 (relative, as
the ONNX export is checked); otherwise, or when tf2onnx cannot convert it, the network runs in TensorFlow itself
(a long-lived child process per network) and `warn` says why. Either way the network is inference-only.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from .onnx import TOLERANCE, OnnxModule
from .tf_env import TFError, TFWorker, require_tensorflow

JOBS = "deepnodes.dl.formats.savedmodel_jobs"
#: what the DeepNodes SavedModel writer records beside saved_model.pb (spec order, metadata)
RECORD = "deepnodes.json"
#: the most files and bytes a SavedModel folder may hold before anything reads it
MAX_FILES = 10_000
MAX_BYTES = 16 << 30


def is_savedmodel(path: Path) -> bool:
    return path.is_dir() and ((path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file())


def check_folder(path: Path) -> None:
    """Refuse (one sentence) what is not a SavedModel folder of sane size with no links out of it."""
    if not path.exists():
        raise ValueError(f"there is no SavedModel folder at {path}")
    if not path.is_dir():
        raise ValueError(f"the SavedModel {path.name} is a file; a SavedModel is a folder holding saved_model.pb")
    if not (path / "saved_model.pb").is_file():
        extra = " (saved_model.pbtxt, the text form, is not read)" if (path / "saved_model.pbtxt").exists() else ""
        raise ValueError(f"the folder {path.name} is not a TensorFlow SavedModel: it has no saved_model.pb{extra}")
    files, size = 0, 0
    for root, dirs, names in os.walk(path):
        for n in dirs + names:
            p = Path(root) / n
            if p.is_symlink():
                raise ValueError(f"the SavedModel {path.name} holds a link ({p.relative_to(path)}); DeepNodes reads "
                                 "only SavedModels whose files are inside the folder")
        files += len(names)
        size += sum((Path(root) / n).stat().st_size for n in names)
        if files > MAX_FILES or size > MAX_BYTES:
            raise ValueError(f"the SavedModel {path.name} holds more than {MAX_FILES} files or {MAX_BYTES >> 30} GiB; "
                             "DeepNodes does not read it")


class TFModule(torch.nn.Module):
    """A SavedModel signature run by TensorFlow in a child process: forward(*tensors) -> tuple of tensors, in the
    spec's order. No trainable parameters; copies share the child (a pickled one starts its own when called)."""

    def __init__(self, path: str, signature: str, trust: bool, inputs: list[str], outputs: list[str],
                 worker: TFWorker | None = None):
        super().__init__()
        self.path, self.signature, self.trust = path, signature, trust
        self.input_names, self.output_names = list(inputs), list(outputs)
        self.worker = worker or executor_worker(path, signature, trust)

    def forward(self, *xs):
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
            raise RuntimeError("a network run by TensorFlow cannot be traced or exported by torch")
        arrays = {n: x.detach().cpu().numpy() for n, x in zip(self.input_names, xs)}
        try:
            _, ys = self.worker.call(f"{JOBS}:predict", {}, arrays)
        except TFError as e:
            raise RuntimeError(f"TensorFlow running the SavedModel {Path(self.path).name}: {e}") from None
        return tuple(torch.from_numpy(np.ascontiguousarray(ys[n])) for n in self.output_names)

    def __deepcopy__(self, memo):
        # nothing here changes as it runs (no weights in torch, no train/eval state in the signature), so a copy
        # (every Executor run and service request takes one: `Network.inference_module`) shares the TensorFlow
        # child instead of starting its own, which would import TensorFlow again (seconds); calls are serialised
        new = TFModule(self.path, self.signature, self.trust, self.input_names, self.output_names, self.worker)
        memo[id(self)] = new
        return new


def executor_worker(path: str, signature: str, trust: bool, order: dict | None = None) -> TFWorker:
    """A TensorFlow child holding the SavedModel's signature loaded (again after any restart)."""
    return TFWorker(setup=(f"{JOBS}:load", {"path": path, "signature": signature, "trust": trust, "order": order}))


def recorded(path: Path, warn=None):
    """The spec and metadata the DeepNodes writer records beside saved_model.pb (`deepnodes.json`), read as data
    and validated; None when there is none, or it is damaged (then `warn` says so: the signature still holds)."""
    from .native_files import metadata_from_json, spec_from_json

    f = path / RECORD
    if not f.is_file():
        return None
    try:
        if f.stat().st_size > 16 << 20:
            raise ValueError("it is larger than 16 MiB")
        d = json.loads(f.read_bytes())
        if not isinstance(d, dict):
            raise ValueError("it is not a JSON object")
        where = f"{path.name}/{RECORD}"
        spec = spec_from_json(d.get("spec"), where)
        meta = metadata_from_json(json.dumps(d.get("metadata") or {}), where)
    except (ValueError, OSError, RecursionError) as e:
        if warn:
            warn(f"the SavedModel {path.name}: {RECORD} is ignored ({str(e).splitlines()[0][:200]})")
        return None
    for k in ("factory", "source", "backend", "format", "signature"):
        meta.pop(k, None)
    return spec, meta


def save_tf_network(network, path: str | Path) -> Path:
    """A network run by TensorFlow, saved with results: a copy of its SavedModel folder (screened again, without
    trust, when it is read back by `load_tf_network`) with the network's spec order and metadata in deepnodes.json."""
    import shutil

    from deepnodes.core.atomic_files import replace_dir

    src = Path(network.module.path)
    check_folder(src)  # still there, no links, bounded
    record = {"spec": network.spec.with_(layers=(), output_layers=()).to_json(), "metadata": network.metadata}

    def write(tmp: Path) -> None:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        (tmp / RECORD).write_text(json.dumps(record, default=str))

    return replace_dir(path, write, owned=is_savedmodel, what="SavedModel")


def load_tf_network(path: str | Path):
    """A network saved by `save_tf_network`, run by TensorFlow again (no trust: it is screened like any file)."""
    path = Path(path)
    try:  # the signature it was read with (the record itself is validated by the reader)
        sig = json.loads((path / RECORD).read_bytes()).get("metadata", {}).get("signature")
    except (OSError, ValueError, AttributeError):
        sig = None
    return import_savedmodel(path, signature=sig if isinstance(sig, str) else "serving_default", backend="tensorflow")


def _difference(want: dict, got: list, names: list[str]) -> float:
    worst = 0.0
    for n, g in zip(names, got):
        w = want[f"y:{n}"].astype(np.float32) if want[f"y:{n}"].dtype.kind == "f" else want[f"y:{n}"]
        g = np.asarray(g)
        if w.shape != g.shape:
            return float("inf")
        if w.dtype.kind != "f":
            if not np.array_equal(w, g):
                return float("inf")
            continue
        if w.size:
            worst = max(worst, float(np.max(np.abs(w - g.astype(np.float32)) / (1.0 + np.abs(w)))))
    return worst


def import_savedmodel(path: str | Path, signature: str = "serving_default", trust: bool = False, warn=None,
                      timeout: float = 600.0, backend: str = "auto"):
    """Read a SavedModel folder as an inference-only network (see the module docstring). `backend`: "auto"
    (ONNX Runtime when the conversion verifies, else TensorFlow), "onnxruntime" (an error if it does not verify)
    or "tensorflow"."""
    from ..network import Network
    from ..spec import NetworkSpec, TensorSpec

    path = Path(path).expanduser().resolve()
    require_tensorflow("reading a TensorFlow SavedModel", tf2onnx=backend != "tensorflow")
    check_folder(path)
    rec = recorded(path, warn)
    order = {"inputs": [t.name for t in rec[0].inputs], "outputs": [t.name for t in rec[0].outputs]} if rec else None
    worker = executor_worker(str(path), signature, trust, order)  # kept as the executor if ONNX Runtime cannot run it
    worker.setup_timeout = timeout
    try:
        info, arrays = worker.call(f"{JOBS}:prepare", {"path": str(path), "signature": signature, "trust": trust,
                                                       "order": order, "convert": backend != "tensorflow"},
                                   timeout=timeout)
    except BaseException:
        worker.close()
        raise
    ins, outs = info["inputs"], info["outputs"]
    spec = NetworkSpec(tuple(TensorSpec(t["name"], tuple(t["shape"]), t["dtype"]) for t in ins),
                       tuple(TensorSpec(t["name"], tuple(t["shape"]), t["dtype"]) for t in outs))
    meta = {"source": str(path), "format": "savedmodel", "signature": signature,
            "layout": "TensorFlow (images channels last)"}
    if rec and [(t.name, t.shape) for t in rec[0].inputs + rec[0].outputs] == \
            [(t.name, t.shape) for t in spec.inputs + spec.outputs]:  # written by DeepNodes: its own metadata back
        meta = {**rec[1], **{k: v for k, v in meta.items() if k != "layout"}}
    module, why = None, None
    if backend != "tensorflow":
        if "onnx" in arrays:
            module = OnnxModule(arrays["onnx"].tobytes())
            try:
                got = module(*(torch.from_numpy(arrays[f"x:{t['name']}"]) for t in ins))
                diff = _difference(arrays, [g.numpy() for g in got], [t["name"] for t in outs])
            except Exception as e:  # noqa: BLE001 - ONNX Runtime refusing the converted graph
                diff, why = float("inf"), f"ONNX Runtime cannot run the converted model ({str(e).splitlines()[0][:200]})"
            if diff > TOLERANCE:
                why = why or (f"ONNX Runtime's outputs differ from TensorFlow's by {diff:.2e} (more than "
                              f"{TOLERANCE:g})")
                module = None
        else:
            why = f"tf2onnx cannot convert it ({info.get('conversion_error')})"
    if module is None and backend == "onnxruntime":
        raise ValueError(f"option 'backend' is 'onnxruntime' but the SavedModel {path.name} does not run there: {why}")
    if module is None:
        if why and warn:
            warn(f"the SavedModel {path.name} runs in TensorFlow (slower, in a child process): {why}")
        module = TFModule(str(path), signature, trust, [t["name"] for t in ins], [t["name"] for t in outs], worker)
        meta["backend"] = "tensorflow"
    else:
        worker.close()
        meta["backend"] = "onnxruntime"
    return Network(spec, module=module, metadata=meta)
