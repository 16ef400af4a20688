"""Batch inference: a network's outputs (or any intermediate layer's tensor) for converted inputs.

    arrays, backend = predict(network, [x], batch_size=1024)                 # every output, numpy
    arrays, _ = predict(network, [x], layers=["dense_1"])                    # feature extraction

Backends: `torch` (eager, inference mode), `onnxruntime`, or `auto`: ONNX Runtime when the network exports
cleanly (it ran CNN inference several times faster than eager torch on these CPUs), torch otherwise. The
exported model is cached per network spec + weights + requested tensors (in memory and in the cache
folder), and checked once against torch on a few rows before it is trusted.
The arrays become table columns in `predictions.py` (`predictions_table`, re-exported here).
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import threading
import weakref
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .convert import Converted
from .network import Network
from .predictions import class_columns, is_classifier, predictions_table  # noqa: F401 - re-exported
from .spec import TensorSpec

BACKENDS = ("auto", "torch", "onnxruntime")
_SESSIONS: dict[str, Any] = {}
_FAILED: dict[str, str] = {}
_LOCK = threading.Lock()


class InferenceError(ValueError):
    """Inference cannot run as asked (an unknown layer, a backend that cannot take the network)."""


# --------------------------------------------------------------------------- intermediate layers
def _find_module(module: torch.nn.Module, layer: str) -> torch.nn.Module | None:
    best = None
    for name, m in module.named_modules():
        if name == layer:
            return m
        if name.split(".")[-1] == layer and (best is None):
            best = m
    return best


class Tap(torch.nn.Module):
    """`module` returning the outputs of named submodules (feature extraction) after / instead of its own.

    The hooks live only for one forward call, on the submodules of *this* Tap's `inner`: a copy of a Tap (an
    exporter's or a consumer's own view, `copy.deepcopy`) taps its own copy, and no hook stays behind."""

    def __init__(self, module: torch.nn.Module, layers: Sequence[str], keep_outputs: Sequence[int] = ()):
        super().__init__()
        self.inner = module
        self.layers = list(layers)
        self.keep = list(keep_outputs)
        for layer in self.layers:
            name = layer.split(":")[0]
            if _find_module(module, name) is None:
                raise InferenceError(f"option 'layers': the network has no layer '{name}'")

    def close(self) -> None:
        """Nothing to remove: hooks are registered and removed within each forward call."""

    @staticmethod
    def _hook(seen: dict, key: str, idx: int | None):
        def hook(mod, args, out):
            if isinstance(out, (tuple, list)):
                out = out[idx or 0]
            elif idx:
                raise InferenceError(f"option 'layers': layer '{key.split(':')[0]}' has one output")
            seen[key] = out
        return hook

    def forward(self, *xs):
        seen: dict[str, Any] = {}
        handles = []
        try:
            for layer in self.layers:
                m = _find_module(self.inner, layer.split(":")[0])
                idx = int(layer.split(":")[1]) if ":" in layer else None
                handles.append(m.register_forward_hook(self._hook(seen, layer, idx)))
            out = self.inner(*xs)
        finally:
            for h in handles:
                h.remove()
        out = out if isinstance(out, tuple) else (out,)
        return tuple(out[i] for i in self.keep) + tuple(seen[k] for k in self.layers)


def layer_spec(network: Network, layer: str) -> TensorSpec | None:
    """The spec of a layer's output tensor (`"name"` or `"name:k"`) when the network has a layer graph."""
    name, _, k = layer.partition(":")
    try:
        entry = network.spec.layer(name)
    except KeyError:
        return None
    outs = entry.outputs
    i = int(k) if k else 0
    return outs[i] if i < len(outs) else None


def check_request(network: Network, outputs: Sequence[str] | None, layers: Sequence[str] | None) -> list[int]:
    """Indices of the requested network outputs; a worded `InferenceError` for unknown names."""
    names = [t.name for t in network.spec.outputs]
    if outputs is None or (not outputs and not layers):
        return list(range(len(names)))
    idx = []
    for o in outputs:
        if o not in names:
            raise InferenceError(f"option 'outputs': the network has no output '{o}'; its outputs are "
                                 f"{', '.join(repr(n) for n in names)}")
        idx.append(names.index(o))
    if network.spec.layers:
        have = [layer.name for layer in network.spec.layers]
        for layer in layers or ():
            if layer.split(":")[0] not in have:
                raise InferenceError(f"option 'layers': the network has no layer '{layer.split(':')[0]}'; its layers "
                                     f"are {', '.join(repr(n) for n in have[:20])}")
    return idx


# --------------------------------------------------------------------------- ONNX export cache
def weights_hash(network: Network, extra: Any = None) -> str:
    """The export cache key: the network's spec and weights (`weights_digest`) with `extra` (the request)."""
    h = hashlib.sha256(weights_digest(network).encode())
    h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


_DIGESTS: "weakref.WeakKeyDictionary[Network, tuple[tuple, str]]" = weakref.WeakKeyDictionary()


def _fingerprint(module) -> tuple | None:
    """Which tensors the module holds and their autograd version counters (a load_state_dict, an optimizer's
    foreach step, a replaced layer or `.to()` move them), or None when they cannot be read (inference tensors)."""
    if isinstance(module, torch.jit.ScriptModule):
        tensors = itertools.chain(module.parameters(), module.buffers())
    else:  # a plain walk over the submodules: nn.Module's named-member generators cost ~0.15 ms per request
        tensors, stack = [], [module]
        while stack:
            m = stack.pop()
            tensors += m._parameters.values()
            tensors += m._buffers.values()
            stack += m._modules.values()
    try:
        return tuple((id(t), t.data_ptr(), t._version) for t in tensors if t is not None)
    except (RuntimeError, AttributeError):
        return None


def weights_digest(network: Network) -> str:
    """A hash of the spec and every weight, computed again only when the weights may have changed: memoised per
    network object on its `weights_version` (bumped by whatever changes the weights in place) and the tensors'
    version counters. Hashing every call cost ~0.4 ms per service request."""
    module = network.module
    state = (network.weights_version, _fingerprint(module))
    if state[1] is not None:
        with _LOCK:
            memo = _DIGESTS.get(network)
        if memo is not None and memo[0] == state:
            return memo[1]
    h = hashlib.sha256()
    h.update(json.dumps(network.spec.to_json(), sort_keys=True, default=str).encode())
    for k, v in module.state_dict().items():
        h.update(k.encode())
        t = v.detach().cpu().contiguous()
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    digest = h.hexdigest()
    if state[1] is not None:
        with _LOCK:
            _DIGESTS[network] = (state, digest)
    return digest


def _exporter() -> Callable | None:
    """The layers engineer's ONNX exporter (`export_onnx(network, path, opset=17)`), wherever it lives."""
    import importlib

    for mod in ("deepnodes.dl.formats", "deepnodes.dl.formats.onnx", "deepnodes.dl.onnx", "deepnodes.dl.io",
                "deepnodes.dl.export"):
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        fn = getattr(m, "export_onnx", None)
        if fn is not None:
            return fn
    return None


def _export(network: Network, path: Path) -> None:
    fn = _exporter()
    if fn is not None:
        fn(network, str(path), opset=17)
        return
    # until the formats module lands: a plain export with a dynamic batch axis
    dummies = tuple(_dummy(t) for t in network.spec.inputs)
    in_names = [t.name for t in network.spec.inputs]
    out_names = [t.name for t in network.spec.outputs]
    torch.onnx.export(network.module, dummies, str(path), input_names=in_names, output_names=out_names,
                      dynamic_axes={n: {0: "batch"} for n in in_names + out_names}, opset_version=17, dynamo=False)


def _dummy(t: TensorSpec, gen: torch.Generator | None = None) -> torch.Tensor:
    """A probe batch; random numbers from a generator of its own (never torch's global one, which a learner
    running beside may be drawing its dropout from)."""
    shape = (2, *[d if d is not None else 4 for d in t.shape])
    dt = getattr(torch, t.dtype, torch.float32)
    gen = gen or torch.Generator().manual_seed(0)
    return torch.zeros(shape, dtype=dt) if not dt.is_floating_point else torch.rand(shape, dtype=dt, generator=gen)


def cache_dir() -> Path:
    base = os.environ.get("DEEPNODES_CACHE") or str(Path.home() / ".cache" / "deepnodes")
    p = Path(base) / "onnx"
    p.mkdir(parents=True, exist_ok=True)
    return p




def onnx_session(network: Network, outputs: list[int], layers: list[str], threads: int | None = None):
    """An ONNX Runtime session for `network` returning the requested outputs and layer tensors (cached), or
    raises `InferenceError` saying why the network does not export.

    One export at a time: torch.onnx.export keeps global state (two executors running side by side failed
    with "GLOBALS.in_onnx_export must be True"), and two nodes exporting the same network share a cache file."""
    from .formats.onnx import EXPORT_LOCK

    with EXPORT_LOCK:
        return _onnx_session(network, outputs, layers, threads)


def _onnx_session(network: Network, outputs: list[int], layers: list[str], threads: int | None = None):
    import onnxruntime as ort

    key = weights_hash(network, {"outputs": outputs, "layers": layers})
    with _LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]
        if key in _FAILED:
            raise InferenceError(_FAILED[key])
    path = cache_dir() / f"{key}.onnx"
    sub = _sub_network(network, outputs, layers)
    try:
        if not path.exists():  # a temporary name of its own: another process may export into the same cache
            tmp = path.with_name(f".{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp.onnx")
            try:
                _export(sub, tmp)
                tmp.replace(path)
            finally:
                tmp.unlink(missing_ok=True)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or torch.get_num_threads()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        _verify(sub, sess)
    except Exception as e:  # noqa: BLE001 - any export problem means: use torch
        msg = f"the network does not export to ONNX cleanly ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        with _LOCK:
            _FAILED[key] = msg
        path.unlink(missing_ok=True)
        raise InferenceError(msg) from None
    finally:
        if isinstance(sub.module, Tap):
            sub.module.close()
    with _LOCK:
        _SESSIONS[key] = sess
    return sess


def _sub_network(network: Network, outputs: list[int], layers: list[str]) -> Network:
    """What is exported: a network of its own (own module view, own metadata), so exporting changes nothing
    of the input network."""
    if outputs == list(range(len(network.spec.outputs))) and not layers:
        return Network(network.spec, module=network.inference_module(), metadata=copy.deepcopy(network.metadata))
    outs = [network.spec.outputs[i] for i in outputs]
    for layer in layers:
        s = layer_spec(network, layer)
        outs.append(TensorSpec(layer.replace(":", "_") + "_output", s.shape if s else (None,), s.dtype if s else "float32"))
    module = Tap(network.inference_module(), layers, outputs).eval()  # hooks on our own copy, never the input's
    return Network(network.spec.with_(outputs=tuple(outs), output_layers=()), module=module,
                   metadata=copy.deepcopy(network.metadata))


def _verify(network: Network, sess, rows: int = 4) -> None:
    xs = [_dummy(t)[:1].repeat(rows, *([1] * len(t.shape))) for t in network.spec.inputs]
    gen = torch.Generator().manual_seed(1)
    for x in xs:
        if x.is_floating_point():
            x.copy_(torch.rand(x.shape, generator=gen).to(x.dtype))
    with torch.inference_mode():
        want = [o.float().numpy() for o in network.forward(*xs)]
    feed = {i.name: x.numpy() for i, x in zip(sess.get_inputs(), xs)}
    got = sess.run(None, feed)
    for w, g in zip(want, got):
        if w.shape != g.shape or not np.allclose(w, g, atol=1e-4, rtol=1e-3):
            raise InferenceError("ONNX Runtime's results differ from torch's")


# --------------------------------------------------------------------------- predict
def _np(x: Converted | torch.Tensor) -> tuple[torch.Tensor, torch.dtype]:
    if isinstance(x, Converted):
        return x.data, x.dtype
    t = x if torch.is_tensor(x) else torch.as_tensor(x)
    return t, t.dtype


def predict(network: Network, xs: Sequence[Converted | torch.Tensor], *, outputs: Sequence[str] | None = None,
            layers: Sequence[str] | None = None, batch_size: int = 256, backend: str = "auto",
            device: str | None = None, check_cancelled: Callable[[], None] | None = None,
            progress: Callable[[float], None] | None = None, log: Callable[[str], None] | None = None
            ) -> tuple[list[np.ndarray], str]:
    """The requested outputs (default: all) then the requested layer tensors, as numpy arrays, and the backend used."""
    if backend not in BACKENDS:
        raise InferenceError(f"option 'backend': unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}")
    layers = list(layers or [])
    out_idx = check_request(network, outputs, layers)
    data = [_np(x) for x in xs]
    if len(data) != len(network.spec.inputs):
        raise InferenceError(f"the network has {len(network.spec.inputs)} inputs but {len(data)} were given")
    n = int(data[0][0].shape[0])
    dev = torch.device("cuda" if (device in (None, "", "auto") and torch.cuda.is_available()) else
                       ("cpu" if device in (None, "", "auto") else device))
    use = backend
    sess = None
    if backend in ("auto", "onnxruntime") and dev.type == "cpu":
        try:
            sess = onnx_session(network, out_idx, layers)
            use = "onnxruntime"
        except InferenceError as e:
            if backend == "onnxruntime":
                raise InferenceError(f"option 'backend' is 'onnxruntime' but {e}; use 'auto' or 'torch'") from None
            if log:
                log(f"{e}; running with torch")
            use = "torch"
    elif backend == "onnxruntime":
        raise InferenceError("option 'backend' is 'onnxruntime', which runs on the CPU here; use 'torch' for CUDA")
    else:
        use = "torch"
    results: list[np.ndarray | None] = [None] * (len(out_idx) + len(layers))

    def put(k: int, lo: int, arr: np.ndarray):
        if results[k] is None:
            results[k] = np.empty((n, *arr.shape[1:]), dtype=arr.dtype)
        results[k][lo:lo + len(arr)] = arr

    if use == "onnxruntime":
        names = [i.name for i in sess.get_inputs()]
        for lo in range(0, n, batch_size):
            if check_cancelled:
                check_cancelled()
            feed = {}
            for name, (t, dt) in zip(names, data):
                b = t[lo:lo + batch_size]
                feed[name] = (b if b.dtype == dt else b.to(dt)).numpy()
            for k, arr in enumerate(sess.run(None, feed)):
                put(k, lo, arr)
            if progress:
                progress(min(1.0, (lo + batch_size) / n))
    else:
        module = network.inference_module(dev)  # our own view: eval mode, device and hooks never touch the input
        model = Tap(module, layers, out_idx) if layers or out_idx != list(range(len(network.spec.outputs))) else module
        try:
            with torch.inference_mode():
                for lo in range(0, n, batch_size):
                    if check_cancelled:
                        check_cancelled()
                    xb = []
                    for t, dt in data:
                        b = t[lo:lo + batch_size].to(dev)
                        xb.append(b if b.dtype == dt else b.to(dt))
                    out = model(*xb)
                    out = out if isinstance(out, tuple) else (out,)
                    for k, o in enumerate(out):
                        put(k, lo, o.float().cpu().numpy() if o.is_floating_point() else o.cpu().numpy())
                    if progress:
                        progress(min(1.0, (lo + batch_size) / n))
        finally:
            if isinstance(model, Tap):
                model.close()
    if n == 0:
        results = [np.zeros((0,), np.float32) for _ in results]
    return [r for r in results], use
