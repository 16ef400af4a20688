"""ONNX export: `export_onnx(network, path, opset=17)`.

The model gets a dynamic batch axis (and dynamic sizes where the spec has `None`), input and output names
from the spec, the opset and the network spec in its metadata, and is checked twice: by `onnx.checker` and by an
ONNX Runtime run whose outputs must match torch's within 1e-5. It is written to a temporary sibling and replaces
the old file only once both checks pass; an existing file that is not an ONNX model is never replaced.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import torch

from deepnodes.core.atomic_files import RefusedWrite, replace_file

from ..spec import TensorSpec

TOLERANCE = 1e-5

#: held around every torch.onnx.export in the process (Network Writer, the Executor's export cache)
EXPORT_LOCK = threading.RLock()


class ExportError(ValueError):
    """The network does not export cleanly (the message says why)."""


def id_limits(layers) -> dict[str, int]:
    """For each network input an Embedding reads, the smallest vocabulary size among those that read it (ids
    drawn beyond it would be out of range: an export would fail on its own example, not on the network)."""
    out: dict[str, int] = {}
    for e in layers:
        if e.kind == "Embedding" and e.inputs and e.config.get("input_dim"):
            name = e.inputs[0].split(":")[0]
            out[name] = min(out.get(name, 10), int(e.config["input_dim"]))
    return out


def example_inputs(specs, batch: int = 2, var: int = 5, seed: int = 0, layers=()) -> tuple[torch.Tensor, ...]:
    """Random tensors matching input specs (ids in 0..9 for integer inputs, fewer where an Embedding of the
    network's `layers` has a smaller vocabulary)."""
    g = torch.Generator().manual_seed(seed)
    limits = id_limits(layers)
    out = []
    for t in specs:
        shape = (batch, *[var if d is None else d for d in t.shape])
        dt = getattr(torch, t.dtype, torch.float32)
        if dt.is_floating_point:
            out.append(torch.rand(shape, generator=g).to(dt))
        elif dt == torch.bool:
            out.append(torch.rand(shape, generator=g) > 0.5)
        else:
            out.append(torch.randint(0, limits.get(t.name, 10), shape, generator=g).to(dt))
    return tuple(out)


class _Tuple(torch.nn.Module):
    """Makes sure the exported module returns a tuple in spec order."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, *xs):
        y = self.m(*xs)
        return y if isinstance(y, tuple) else (y,)


def _names(specs: tuple[TensorSpec, ...], prefix: str) -> list[str]:
    names = [t.name or f"{prefix}_{i}" for i, t in enumerate(specs)]
    return names


def export_onnx(network, path: str | Path, opset: int = 17, check: bool = True, tolerance: float = TOLERANCE) -> Path:
    """Write `network` as an ONNX model at `path` and return the path (see the module docstring).

    Raises `ExportError` with a sentence when torch cannot export the network or ONNX Runtime's outputs differ.
    """
    import onnx

    path = Path(path)
    module = _Tuple(network.inference_module()).eval()  # a view: the input network is not changed
    spec = network.spec
    xs = example_inputs(spec.inputs, layers=spec.layers)
    in_names = _names(spec.inputs, "input")
    out_names = _names(spec.outputs, "output")
    dyn = {}
    for n, t in zip(in_names, spec.inputs):
        dyn[n] = {0: "batch", **{i + 1: f"{n}_d{i + 1}" for i, d in enumerate(t.shape) if d is None}}
    for n, t in zip(out_names, spec.outputs):
        dyn[n] = {0: "batch", **{i + 1: f"{n}_d{i + 1}" for i, d in enumerate(t.shape) if d is None}}

    def write(tmp: Path) -> None:
        try:
            with EXPORT_LOCK, torch.no_grad():  # torch.onnx.export keeps global state: one at a time
                torch.onnx.export(module, xs, str(tmp), input_names=in_names, output_names=out_names,
                                  dynamic_axes=dyn, opset_version=opset, dynamo=False, do_constant_folding=True)
        except Exception as e:  # noqa: BLE001 - any exporter failure becomes one sentence
            raise ExportError(f"the network does not export to ONNX: {type(e).__name__}: "
                              f"{str(e).strip().splitlines()[0][:300]}") from e
        model = onnx.load(str(tmp))
        meta = {"deepnodes.opset": str(opset), "deepnodes.spec": json.dumps(spec.to_json()),
                "deepnodes.metadata": json.dumps(network.metadata, default=str)}
        for k, v in meta.items():
            p = model.metadata_props.add()
            p.key, p.value = k, v
        onnx.save(model, str(tmp))

    def verify(tmp: Path) -> None:
        try:
            onnx.checker.check_model(str(tmp))
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"the exported ONNX model fails the ONNX checker: {str(e).splitlines()[0][:300]}") from e
        verify_onnx(network, tmp, tolerance)

    try:
        replace_file(path, write, verify if check else None, owned=_is_onnx, what="ONNX model")
    except RefusedWrite as e:
        raise ExportError(str(e)) from None
    return path


def _is_onnx(path: Path) -> bool:
    import onnx

    try:
        m = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001
        return False
    return m.ir_version > 0 and len(m.graph.node) > 0


def verify_onnx(network, path: str | Path, tolerance: float = TOLERANCE, batch: int = 3) -> float:
    """Run the ONNX model in ONNX Runtime on random inputs (another batch size than the export's, to exercise the
    dynamic axis) and compare with torch; returns the largest difference, raises `ExportError` above tolerance."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    xs = example_inputs(network.spec.inputs, batch=batch, var=7, seed=1, layers=network.spec.layers)
    module = _Tuple(network.inference_module()).eval()  # a view: the input network is not changed
    with torch.no_grad():
        want = [w.float().numpy() for w in module(*xs)]
    got = sess.run(None, {i.name: x.numpy() for i, x in zip(sess.get_inputs(), xs)})
    worst = 0.0
    for i, (w, g) in enumerate(zip(want, got)):
        if w.shape != g.shape:
            raise ExportError(f"ONNX Runtime's output {i} has shape {g.shape}, torch's {w.shape}")
        d = float(np.max(np.abs(w - g.astype(np.float32)) / (1.0 + np.abs(w)))) if w.size else 0.0
        worst = max(worst, d)
    if worst > tolerance:
        raise ExportError(f"ONNX Runtime's outputs differ from torch's by {worst:.2e} (more than {tolerance:g})")
    return worst


def onnx_metadata(path: str | Path) -> dict:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


# ---------------------------------------------------------------- reading ONNX models (inference only)


class OnnxModule(torch.nn.Module):
    """An ONNX model run by ONNX Runtime behind a torch module interface: forward(*tensors) -> tuple of tensors.
    It has no trainable parameters (inference and feature extraction only)."""

    def __init__(self, model_bytes: bytes, threads: int | None = None):
        super().__init__()
        self.model_bytes = model_bytes
        self.threads = threads
        self._session = None

    def session(self):
        if self._session is None:
            import onnxruntime as ort

            so = ort.SessionOptions()
            if self.threads:
                so.intra_op_num_threads = self.threads
            self._session = ort.InferenceSession(self.model_bytes, so, providers=["CPUExecutionProvider"])
        return self._session

    def forward(self, *xs):
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():  # a trace would record the outputs as constants
            raise RuntimeError("a network run by ONNX Runtime is already an ONNX model; torch cannot trace it")
        sess = self.session()
        feed = {i.name: x.detach().cpu().numpy() for i, x in zip(sess.get_inputs(), xs)}
        return tuple(torch.from_numpy(y) for y in sess.run(None, feed))

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_session"] = None
        return d

    def __deepcopy__(self, memo):
        new = OnnxModule(self.model_bytes, self.threads)
        new._session = self._session  # ONNX Runtime sessions are immutable and run thread-safely: shared, not rebuilt
        memo[id(self)] = new
        return new


_ONNX_DTYPES = {1: "float32", 11: "float64", 10: "float16", 16: "bfloat16", 7: "int64", 6: "int32", 2: "uint8",
                9: "bool"}


def save_onnx_module(network, path: Path) -> Path:
    """An ONNX network (read from a model) saved as its ONNX model, with its current spec and metadata."""
    import onnx

    model = onnx.load_from_string(network.module.model_bytes)
    keep = [(p.key, p.value) for p in model.metadata_props if p.key not in ("deepnodes.spec", "deepnodes.metadata")]
    del model.metadata_props[:]
    for k, v in keep + [("deepnodes.spec", json.dumps(network.spec.to_json())),
                        ("deepnodes.metadata", json.dumps(network.metadata, default=str))]:
        p = model.metadata_props.add()
        p.key, p.value = k, v
    data = model.SerializeToString()
    return replace_file(path, lambda tmp: tmp.write_bytes(data), lambda tmp: onnx.checker.check_model(str(tmp)))


def import_onnx(path: str | Path, source: bool = True):
    """Read an ONNX model as an inference-only network. The spec comes from the model's DeepNodes metadata when
    it was exported here, else from its graph (the first axis is taken as the batch). `source`: record the path
    in the metadata."""
    import onnx

    from ..network import Network
    from ..spec import NetworkSpec, TensorSpec as TS

    path = Path(path)
    if not path.exists():
        raise ValueError(f"there is no ONNX file at {path}")
    if not path.is_file():
        raise ValueError(f"the ONNX model {path} is a folder, not a file")
    data = path.read_bytes()
    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path.name} is not a valid ONNX model ({first})") from None
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:  # ONNX Runtime would read whatever file the model names
        raise ValueError(f"the ONNX model {path.name} keeps tensor '{external[0][:80]}' in an external file; DeepNodes "
                         "reads only self-contained ONNX models")
    from .native_files import metadata_from_json, spec_from_json

    props = {p.key: p.value for p in model.metadata_props}
    meta = metadata_from_json(props.get("deepnodes.metadata", "{}"), f"the ONNX model {path.name}")
    meta.pop("factory", None)
    if source:
        meta["source"] = str(path)
    if "deepnodes.spec" in props:
        s = spec_from_json(props["deepnodes.spec"], f"the ONNX model {path.name}")
        spec = NetworkSpec(s.inputs, s.outputs)
    else:
        init = {i.name for i in model.graph.initializer}

        def specs(values):
            out = []
            for v in values:
                if v.name in init:
                    continue
                tt = v.type.tensor_type
                dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim][1:]
                out.append(TS(v.name, tuple(dims), _ONNX_DTYPES.get(tt.elem_type, "float32")))
            return tuple(out)

        spec = NetworkSpec(specs(model.graph.input), specs(model.graph.output))
    module = OnnxModule(data)
    _probe(module, spec, path)
    return Network(spec, module=module, metadata=meta)


def _probe(module: "OnnxModule", spec, path: Path) -> None:
    """Run the model once on a batch of its declared inputs: a model whose graph does not fit its declared
    spec is refused now, with a sentence, instead of failing later inside the Executor."""
    xs = example_inputs(spec.inputs, batch=2, var=3)
    try:
        sess = module.session()
        if len(sess.get_inputs()) != len(spec.inputs) or len(sess.get_outputs()) != len(spec.outputs):
            raise ValueError(f"it has {len(sess.get_inputs())} inputs and {len(sess.get_outputs())} outputs, its "
                             f"spec {len(spec.inputs)} and {len(spec.outputs)}")
        ys = module(*xs)
        for y, t in zip(ys, spec.outputs):
            if len(y.shape) - 1 != len(t.shape) or any(d is not None and d != g for d, g in zip(t.shape, y.shape[1:])):
                raise ValueError(f"output {t.name} has shape {tuple(y.shape[1:])}, its spec {t.shape}")
    except Exception as e:  # noqa: BLE001 - ONNX Runtime's errors of a damaged graph
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ValueError(f"the ONNX model {path.name} does not run on inputs of its declared shapes ({first})") from None
