"""TensorFlow SavedModel and TFLite export: `export_savedmodel(network, folder)`, `export_tflite(network, file)`.

The bridge is the Keras export: a network built from layer nodes becomes a Keras model (`keras_export`), a
network imported from Keras is its own Keras model. The torch process writes it as a `.keras` file in a scratch
folder together with sample inputs and the network's outputs for them; a TensorFlow child process
(`tf_env.run_tf`, jobs in `savedmodel_write_jobs`) loads it on Keras' TensorFlow backend and writes a SavedModel
with a `serving_default` signature whose inputs and outputs carry the network's tensor names, or converts that
SavedModel with the TFLite converter. What was written is read back as a TensorFlow user reads it
(`tf.saved_model.load`, the TFLite interpreter) and its outputs compared with the torch network's before it is
switched into place (`deepnodes.core.atomic_files`): a failure anywhere leaves the old folder or file as it
was. The torch process never imports TensorFlow.

`layout`: "network" keeps the network's own layout in the signature (DeepNodes images are channels first,
(C, H, W), as in its ONNX export; a Keras import is already channels last): the same tensors the Network
Executor feeds. "channels_last" gives images as TensorFlow expects them, (H, W, C).

Refusals (one sentence, before anything is written): a network with no Keras form (a layer without a Keras
counterpart, named; a scripted or imported module), a tensor name a TensorFlow signature cannot carry.
"""
from __future__ import annotations

import json
import re
import tempfile
import threading
from pathlib import Path

import numpy as np
import torch

from deepnodes.core.atomic_files import RefusedWrite, replace_dir, replace_file

from .onnx import ExportError, example_inputs
from .savedmodel_read import is_savedmodel
from .tf_env import TFError, TFWorker, require_tensorflow

TOLERANCE = 1e-5
#: TFLite runs its own kernels (XNNPACK): float32 sums in another order than torch's
TFLITE_TOLERANCE = 1e-5
LAYOUTS = ("network", "channels_last")
#: what TensorFlow accepts as a signature tensor name
_TF_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/]*$")
#: written beside saved_model.pb: the network's spec and metadata (data, for DeepNodes' SavedModel reader)
SPEC_FILE = "deepnodes.json"
TIMEOUT = 600.0
_JOBS = "deepnodes.dl.formats.savedmodel_write_jobs"


def _keras_form(network):
    """(Keras model, per-input layout, per-output layout) in the torch process; refuses with one sentence."""
    from .keras import KerasModule
    from .keras_export import PLAIN, to_keras_model

    if not network.spec.layers and isinstance(network.module, KerasModule):  # a Keras import is its own export
        return network.module.model, [PLAIN] * len(network.spec.inputs), [PLAIN] * len(network.spec.outputs)
    return to_keras_model(network)


def _check_names(network, what: str) -> None:
    for kind, specs in (("input", network.spec.inputs), ("output", network.spec.outputs)):
        names = [t.name for t in specs]
        for n in names:
            if not n or not _TF_NAME.match(n):
                raise ExportError(f"the network's {kind} '{n}' cannot name a tensor of a {what} signature (letters, "
                                  "digits and . _ - / only, not starting with _ - /); rename it")
        if len(set(names)) != len(names):
            raise ExportError(f"the network's {kind}s {names} repeat a name; a {what} signature needs distinct names")


def _to_keras(rank: int) -> list[int]:
    """(N, C, ...) -> (N, ..., C) for a tensor of `rank` axes, batch included."""
    return [0, *range(2, rank), 1]


def _from_keras(rank: int) -> list[int]:
    return [0, rank - 1, *range(1, rank - 1)]


def _job_args(network, in_layouts, out_layouts, layout: str) -> dict:
    from .keras_export import CF

    spec = network.spec
    ins, outs = spec.inputs, spec.outputs
    cf_in = [lay == CF for lay in in_layouts]
    cf_out = [lay == CF for lay in out_layouts]
    own = layout == "network"

    def shape(t, cf):
        s = [None if d is None else int(d) for d in t.shape]
        return s if own or not cf else s[1:] + s[:1]

    return {
        "in_names": [t.name for t in ins], "out_names": [t.name for t in outs],
        "in_shapes": [shape(t, cf) for t, cf in zip(ins, cf_in)], "in_dtypes": [t.dtype for t in ins],
        # the signature's layout -> Keras' layout (inputs), Keras' -> the signature's (outputs)
        "in_perm": [_to_keras(len(t.shape) + 1) if cf and own else None for t, cf in zip(ins, cf_in)],
        "out_perm": [_from_keras(len(t.shape) + 1) if cf and own else None for t, cf in zip(outs, cf_out)],
        # the network's layout (samples) -> the signature's
        "sample_in_perm": [None if own or not cf else _to_keras(len(t.shape) + 1) for t, cf in zip(ins, cf_in)],
        "sample_out_perm": [None if own or not cf else _to_keras(len(t.shape) + 1) for t, cf in zip(outs, cf_out)],
    }


def _samples(network) -> dict[str, np.ndarray]:
    xs = example_inputs(network.spec.inputs, batch=3, var=5, seed=1, layers=network.spec.layers)
    with torch.no_grad():
        ys = network.inference_module()(*xs)
    ys = ys if isinstance(ys, (tuple, list)) else (ys,)
    arrays = {f"in_{i}": x.numpy() for i, x in enumerate(xs)}
    arrays.update({f"out_{i}": y.detach().cpu().numpy() for i, y in enumerate(ys)})
    return arrays


def _prepare(network, layout: str, what: str, scratch: Path) -> tuple[dict, dict]:
    """Everything the TensorFlow job needs: refusals first, then the .keras file in `scratch` and the samples."""
    if layout not in LAYOUTS:
        raise ExportError(f"layout '{layout}' is not one of {', '.join(LAYOUTS)}")
    require_tensorflow(f"writing a {what}")
    _check_names(network, what)
    model, in_layouts, out_layouts = _keras_form(network)
    args = _job_args(network, in_layouts, out_layouts, layout)
    keras_file = scratch / "network.keras"
    model.save(str(keras_file))
    args["keras"] = str(keras_file)
    return args, _samples(network)


_worker_lock = threading.Lock()
_worker: TFWorker | None = None


def _tf_worker() -> TFWorker:
    """One TensorFlow child for this process's writes (TensorFlow's import, seconds, is paid once; a child that
    crashed or ran past its time limit is replaced at the next call)."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = TFWorker()
        return _worker


def _run(job: str, args: dict, arrays: dict, what: str, check=None) -> dict:
    try:
        result, _ = _tf_worker().call(f"{_JOBS}:{job}", args, arrays, timeout=TIMEOUT, check=check)
    except TFError as e:
        raise ExportError(str(e) if str(e).startswith("the ") else f"the {what} cannot be written: {e}") from None
    return result


def _spec_json(network, layout: str) -> str:
    spec = network.spec.with_(layers=(), output_layers=())
    return json.dumps({"spec": spec.to_json(), "metadata": network.metadata, "layout": layout}, default=str)


def _export(network, path: Path, layout: str, tolerance: float, what: str, job: str, replace, owned,
            finish=None, check=None) -> Path:
    with tempfile.TemporaryDirectory(prefix="deepnodes-tf-export-") as scratch:
        args, arrays = _prepare(network, layout, what, Path(scratch))
        args["tolerance"] = tolerance

        def write(tmp: Path) -> None:
            args["out"] = str(tmp)
            _run(job, args, arrays, what, check)
            if finish is not None:
                finish(tmp)

        try:
            replace(path, write, owned=owned, what=what)
        except RefusedWrite as e:
            raise ExportError(str(e)) from None
    return path


def export_savedmodel(network, path: str | Path, layout: str = "network", tolerance: float = TOLERANCE,
                      check=None) -> Path:
    """Write `network` as a TensorFlow SavedModel folder at `path` (see the module docstring). `check`: called
    while TensorFlow works (a node's `ctx.check_cancelled`); when it raises, TensorFlow is stopped, nothing kept."""
    return _export(network, Path(path), layout, tolerance, "SavedModel", "write_savedmodel", replace_dir,
                   is_savedmodel, finish=lambda tmp: (tmp / SPEC_FILE).write_text(_spec_json(network, layout)),
                   check=check)


def is_tflite(path: Path) -> bool:
    """A TFLite flatbuffer: the file identifier TFL3 at bytes 4..8."""
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == b"TFL3"
    except OSError:
        return False


def export_tflite(network, path: str | Path, layout: str = "network", tolerance: float = TFLITE_TOLERANCE,
                  check=None) -> Path:
    """Write `network` as a TFLite flatbuffer file at `path` (converted from its SavedModel; `check` as for
    `export_savedmodel`; see the module docstring)."""
    path = Path(path)
    if path.suffix != ".tflite":
        raise ExportError(f"a TFLite file must end in .tflite; {path.name} does not")
    return _export(network, path, layout, tolerance, "TFLite model", "write_tflite", replace_file, is_tflite,
                   check=check)
