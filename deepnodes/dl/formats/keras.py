"""Keras `.keras` (and legacy `.h5`) import: Keras 3 on its torch backend, where a Keras model is a
`torch.nn.Module`, wrapped as an opaque trainable `Network`.

The imported network keeps the Keras model's own layout (Keras images are (H, W, C), channels last). Its
metadata records a factory (`rebuild`, registered as "keras_model", from the model's JSON config) so the native format
saves it without pickle.
Keras' `safe_mode` stays on (no lambda layers, whose code would be unpickled) unless `trust=True`.
"""
from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from ..factories import module_factory
from ..spec import NetworkSpec, TensorSpec


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError:
        raise ValueError("reading Keras files needs the optional 'keras' package (pip install keras h5py)") from None
    if keras.backend.backend() != "torch":
        raise ValueError(f"Keras import needs KERAS_BACKEND=torch; Keras runs on '{keras.backend.backend()}' here")
    return keras


class KerasModule(nn.Module):
    """A Keras model as a torch module: forward(*inputs) -> tuple of outputs; train()/eval() set Keras' training flag."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *xs):
        y = self.model(xs[0] if len(xs) == 1 else list(xs), training=self.training)
        return tuple(y) if isinstance(y, (list, tuple)) else (y,)


def _spec(t, i: int, prefix: str) -> TensorSpec:
    shape = tuple(None if d is None else int(d) for d in tuple(t.shape)[1:])
    name = getattr(t, "name", None) or f"{prefix}_{i}"
    return TensorSpec(name.split(":")[0].replace("/", "_"), shape, str(getattr(t, "dtype", "float32")))


@module_factory("keras_model")
def rebuild(config: str, trust: bool = False) -> KerasModule:
    """The factory recorded in an imported network's metadata: the architecture from the Keras JSON config
    (Keras' safe mode stays on, so no Lambda layer's code is deserialised, unless the user trusts the file)."""
    import json

    keras = _keras()
    from keras.saving import deserialize_keras_object

    try:
        model = deserialize_keras_object(json.loads(config), safe_mode=not trust)
    except Exception as e:  # noqa: BLE001 - Keras raises many types for a bad config
        raise ValueError(f"the Keras model config cannot be rebuilt ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    if not isinstance(model, keras.Model):
        raise ValueError(f"the Keras model config describes a {type(model).__name__}, not a model")
    return KerasModule(model)


def import_keras(path: str | Path, trust: bool = False):
    """Read a `.keras` / `.h5` file into a trainable `Network` (see the module docstring)."""
    from ..network import Network

    path = Path(path)
    if not path.exists():
        raise ValueError(f"there is no Keras file at {path}")
    keras = _keras()
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=not trust)
    except ValueError as e:
        msg = str(e).splitlines()[0][:300]
        if "safe_mode" in msg or "lambda" in msg.lower():
            raise ValueError(f"the Keras file {path.name} contains Python code (a Lambda layer); loading it needs the "
                             "trust option") from None
        raise ValueError(f"the Keras file {path.name} cannot be read: {msg}") from None
    except Exception as e:  # noqa: BLE001 - zip / h5 errors of damaged files
        raise ValueError(f"the Keras file {path.name} cannot be read ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:200]})") from None
    inputs = tuple(_spec(t, i, "input") for i, t in enumerate(model.inputs))
    outputs = tuple(_spec(t, i, "output") for i, t in enumerate(model.outputs))
    names = list(getattr(model, "output_names", None) or [])
    if len(names) == len(outputs) and len(set(names)) == len(names):
        outputs = tuple(TensorSpec(n, t.shape, t.dtype) for n, t in zip(names, outputs))
    module = KerasModule(model)
    meta = {"source": str(path), "layout": "Keras (channels last)",
            "factory": {"path": "keras_model", "args": {"config": model.to_json()}}}
    return Network(NetworkSpec(inputs, outputs), module=module, metadata=meta)
