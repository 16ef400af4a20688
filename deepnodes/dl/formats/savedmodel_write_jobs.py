"""The TensorFlow side of the SavedModel and TFLite writers: jobs run in the TensorFlow child process
(`tf_env.run_tf`), never in the torch process. This module imports no torch and no TensorFlow at its top.

`write_savedmodel` loads the `.keras` file the torch side wrote, on Keras' TensorFlow backend, and writes a
SavedModel whose `serving_default` signature takes and returns the network's tensors by name (in the layout
asked for: the network's own, or channels last); `write_tflite` also converts that SavedModel with the TFLite
converter. Each checks what it wrote, read back the way a user reads it (`tf.saved_model.load`, the TFLite
interpreter), against the torch network's outputs on sample inputs, and raises a one-sentence `ValueError`
when an output differs by more than the tolerance (|difference| / (1 + |value|), as the ONNX export).
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from .tf_env import tensorflow


def _perm(p):
    return None if p is None else list(p)


def _to(x: np.ndarray, perm) -> np.ndarray:
    return x if perm is None else np.transpose(x, perm)


def _serving_fn(tf, model, args: dict):
    """The signature function: named inputs in the chosen layout -> {output name: tensor} in that layout."""
    in_perm = [_perm(p) for p in args["in_perm"]]    # the signature's layout -> Keras' layout, per input
    out_perm = [_perm(p) for p in args["out_perm"]]  # Keras' layout -> the signature's layout, per output
    out_names = args["out_names"]

    def serve(*xs):
        ks = [x if p is None else tf.transpose(x, p) for x, p in zip(xs, in_perm)]
        ys = model(ks[0] if len(ks) == 1 else ks, training=False)
        ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
        return {n: (y if p is None else tf.transpose(y, p)) for n, y, p in zip(out_names, ys, out_perm)}

    specs = [tf.TensorSpec([None, *shape], tf.as_dtype(dt), name=n)
             for n, shape, dt in zip(args["in_names"], args["in_shapes"], args["in_dtypes"])]
    return serve, specs


def _samples(args: dict, arrays: dict) -> tuple[dict, dict]:
    """Sample inputs (by signature name, in the signature's layout) and the torch network's outputs for them."""
    xs = {n: _to(arrays[f"in_{i}"], args["sample_in_perm"][i]) for i, n in enumerate(args["in_names"])}
    want = {n: _to(arrays[f"out_{i}"], args["sample_out_perm"][i]) for i, n in enumerate(args["out_names"])}
    return xs, want


def _check(got: dict, want: dict, tolerance: float, what: str) -> float:
    worst = 0.0
    for name, w in want.items():
        if name not in got:
            raise ValueError(f"the {what} has no output '{name}' (it has {sorted(got)}); nothing was written")
        g = np.asarray(got[name])
        if g.shape != w.shape:
            raise ValueError(f"the {what}'s output '{name}' has shape {g.shape[1:]}, the network's "
                             f"{w.shape[1:]}; nothing was written")
        w64 = w.astype(np.float64)  # as the ONNX export is checked: absolute near 0, relative for large values
        diff = float(np.max(np.abs(g.astype(np.float64) - w64) / (1.0 + np.abs(w64)))) if w.size else 0.0
        if not diff <= tolerance:
            raise ValueError(f"the {what}'s output '{name}' differs from DeepNodes' by {diff:.2e} (more than "
                             f"{tolerance:g}); nothing was written")
        worst = max(worst, diff)
    return worst


def _unroll(config):
    """Set `unroll` on every recurrent layer in a Keras model config (nested ones too, as in Bidirectional)."""
    if isinstance(config, dict):
        if config.get("class_name") in RECURRENT and isinstance(config.get("config"), dict):
            config["config"]["unroll"] = True
        for v in config.values():
            _unroll(v)
    elif isinstance(config, list):
        for v in config:
            _unroll(v)


def _unrolled(keras, model):
    """For TFLite, whose built-in ops hold no TensorList loop: the model with its recurrent layers unrolled (the
    same weights) when every input has a fixed shape; else the model as it is."""
    if not any(type(layer).__name__ in RECURRENT or hasattr(layer, "forward_layer") for layer in model.layers):
        return model
    if any(d is None for t in model.inputs for d in tuple(t.shape)[1:]):
        return model
    config = model.get_config()
    _unroll(config)
    unrolled = model.__class__.from_config(config)
    unrolled.set_weights(model.get_weights())
    return unrolled


def _save(tf, args: dict, folder: Path, unroll: bool = False):
    import keras

    model = keras.saving.load_model(args["keras"], compile=False)
    if unroll:
        model = _unrolled(keras, model)
    serve, specs = _serving_fn(tf, model, args)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=specs)
    archive.write_out(str(folder), verbose=False)
    return model


RECURRENT = ("LSTM", "GRU", "SimpleRNN", "RNN")
#: the converter's messages: `loc(callsite(fused["Op:", "model/layer_1/..."] ...)): error: reason`
_CONVERTER_OP = re.compile(r'fused\["(\w+):", "[^/"]*/([^/"]+)/')
_CONVERTER_REASON = re.compile(r"error: (?:loc\(.*?\)\)+: )?(?:error: )?([^\n]+)")


def converter_sentence(message: str, layer_names: list[str]) -> str:
    """One sentence for a TFLite converter error: the layer (by the network's name) and the op it stopped at."""
    op = _CONVERTER_OP.search(message)
    reason = _CONVERTER_REASON.search(message)
    why = reason.group(1).strip() if reason else message.strip().splitlines()[0] if message.strip() else ""
    layer = None
    if op:  # the scope is the Keras layer's name, with a call suffix ("lstm_1_1" for layer lstm_1)
        scope = op.group(2)
        hits = [n for n in layer_names if scope == n or scope.startswith(n + "_")]
        layer = max(hits, key=len) if hits else None
    where = f"layer '{layer}'" if layer else "the network"
    opname = f" at TensorFlow op {op.group(1)}" if op else ""
    if op and op.group(1).startswith("TensorList"):
        why = "a recurrent loop over a sequence of variable length; with a fixed length it is unrolled"
    return (f"the TFLite converter cannot convert {where}{opname} with TFLite's built-in ops ({why[:120]}); write "
            "the network as a SavedModel or ONNX instead")


def _fresh(job):
    """A job that leaves no Keras state behind in the long-lived child (names, graphs of earlier models)."""
    def run(args: dict, arrays: dict) -> dict:
        tensorflow()  # TensorFlow first (its thread counts), then Keras on it
        import keras

        try:
            return job(args, arrays)
        finally:
            keras.backend.clear_session()
    run.__doc__ = job.__doc__
    return run


@_fresh
def write_savedmodel(args: dict, arrays: dict) -> dict:
    """Job: write the SavedModel into the (empty) folder `args['out']`, load it back with `tf.saved_model.load`
    and compare its `serving_default` outputs with the network's."""
    tf = tensorflow()
    out = Path(args["out"])
    _save(tf, args, out)
    sig = tf.saved_model.load(str(out)).signatures["serving_default"]
    xs, want = _samples(args, arrays)
    got = {k: v.numpy() for k, v in sig(**{n: tf.constant(x) for n, x in xs.items()}).items()}
    return {"max_difference": _check(got, want, args["tolerance"], "SavedModel")}


@_fresh
def write_tflite(args: dict, arrays: dict) -> dict:
    """Job: write the network as a SavedModel in a scratch folder, convert it with the TFLite converter into
    the file `args['out']`, run that file in the TFLite interpreter and compare its outputs with the network's."""
    tf = tensorflow()
    with tempfile.TemporaryDirectory(prefix="deepnodes-tflite-") as scratch:
        model = _save(tf, args, Path(scratch), unroll=True)
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch, signature_keys=["serving_default"])
        try:
            data = converter.convert()
        except Exception as e:  # noqa: BLE001 - ConverterError and friends: the layer and op in a sentence
            raise ValueError(converter_sentence(str(e), [layer.name for layer in model.layers])) from None
    Path(args["out"]).write_bytes(data)
    interpreter = tf.lite.Interpreter(model_path=args["out"])
    runner = interpreter.get_signature_runner("serving_default")
    xs, want = _samples(args, arrays)
    got = runner(**xs)
    return {"max_difference": _check(got, want, args["tolerance"], "TFLite model"), "bytes": len(data)}
