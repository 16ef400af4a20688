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
    from .tf_env import keep_tensorflow_out

    keep_tensorflow_out()  # Keras would import TensorFlow, when installed, on every save
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

    from deepnodes.core.bounded_zip import check_zip

    path = Path(path)
    if not path.exists():
        raise ValueError(f"there is no Keras file at {path}")
    if not path.is_file():
        raise ValueError(f"the Keras model {path} is a folder, not a file")
    from .h5_screen import screen_h5

    if path.suffix == ".keras":
        check_zip(path, "Keras file")  # a .keras file is a zip: sizes screened before Keras reads it
    # HDF5 can hang on a damaged file: its data is read once in a child process with a time limit first
    screen_h5(path, "Keras file", inside_zip=path.suffix == ".keras")
    keras = _keras()
    from ..rng import seeded

    try:
        with seeded(None):  # Keras initialises weights before loading them: never from a learner's stream beside
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
    acts = output_activations(model)
    if all(a is not None for a in acts):  # recorded, so the Learner and Executor never guess
        meta["output_activations"] = acts
    return Network(NetworkSpec(inputs, outputs), module=module, metadata=meta)


def output_activations(model) -> list[str | None]:
    """The activation that ends each output of a Keras model ('softmax', 'sigmoid', 'linear', ...), read from the
    layer producing it (a Softmax layer, an Activation layer or a layer's `activation`); None where unknown."""
    out: list[str | None] = []
    for t in model.outputs:
        hist = getattr(t, "_keras_history", None)
        layer = hist[0] if hist else None
        name = type(layer).__name__ if layer is not None else ""
        if name in ("Softmax", "Sigmoid"):
            out.append(name.lower())
            continue
        act = getattr(layer, "activation", None)
        act = getattr(act, "__name__", None) if act is not None and not isinstance(act, str) else act
        if act is None and name in ("Dense", "Conv1D", "Conv2D", "Conv3D", "EinsumDense"):
            act = "linear"
        out.append(str(act).lower() if act is not None else None)
    return out
