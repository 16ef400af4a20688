"""Keras 3 export: `export_keras(network, path)` writes a `.keras` file for a network built from layer nodes.

Each layer is rebuilt as its Keras counterpart (the table `CONVERTERS`, kind -> converter) and its weights are
carried over with the layout converted where Keras differs:
- images are channels last in Keras: an image input (C, H, W) becomes (H, W, C), conv kernels (O, I, kh, kw)
  become (kh, kw, I, O), and a Flatten of an image first permutes back to (C, H, W) so the flattened features,
  and so the Dense after it, keep DeepNodes' order;
- Dense kernels are transposed (torch keeps (out, in), Keras (in, out));
- recurrent layers: kernels transposed, torch's two biases summed (LSTM, SimpleRNN) or stacked (GRU,
  `reset_after`), GRU gates reordered from torch's (r, z, n) to Keras' (z, r, h); LSTM gates (i, f, g, o) agree;
  Bidirectional carries both directions (forward then `_reverse`) into Keras' Bidirectional wrapper;
- LayerNormalization: gamma / beta on the same trailing axes (an image's only over all of (C, H, W));
- MultiHeadAttention: the four projections' (out, in) weights as Keras' (in, heads, head_dim) kernels;
  TransformerEncoder / TransformerDecoder blocks as Keras core layers (attention, Add, LayerNormalization, Dense).
A layer without a counterpart is refused with one sentence naming it before anything is written. The file is
written beside the old one, loaded back in Keras and its predictions compared with DeepNodes' (within 1e-5)
before it is switched into place (`deepnodes.core.atomic_files`). Keras runs on its torch backend.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from deepnodes.core.atomic_files import RefusedWrite, replace_file

from .keras import _keras
from .onnx import ExportError, example_inputs

TOLERANCE = 1e-5
CF, PLAIN = "channels_first", "plain"  # layouts of a DeepNodes tensor: an image (C, ...) or anything else

#: kind -> converter(entry, module, inputs, layouts, keras) -> (keras tensor, layout)
CONVERTERS: dict[str, Callable] = {}


def converter(*kinds: str):
    def deco(fn):
        for k in kinds:
            CONVERTERS[k] = fn
        return fn
    return deco


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32 if t.is_floating_point() else t.numpy().dtype)


def _set(layer, weights: list[np.ndarray], y):
    """Carry the weights over into a built Keras layer; returns its output tensor `y`."""
    layer.set_weights(weights)
    return y


def _refuse(entry, why: str):
    raise ExportError(f"layer '{entry.name}' ({entry.kind}) cannot be written as Keras: {why}")


def _is_image(shape) -> bool:
    return len(shape) >= 3  # DeepNodes layout: (C, H, W) / (C, D, H, W); sequences are (T, F)


@converter("Input")
def _input(entry, module, xs, layouts, keras):
    shape = tuple(entry.outputs[0].shape)
    if _is_image(shape):
        return keras.Input(shape=shape[1:] + shape[:1], dtype=entry.outputs[0].dtype, name=entry.name), CF
    return keras.Input(shape=shape, dtype=entry.outputs[0].dtype, name=entry.name), PLAIN


@converter("Dense")
def _dense(entry, m, xs, layouts, keras):
    if layouts[0] == CF:
        _refuse(entry, "Dense on an image tensor (C, H, W) reads the last axis, which Keras keeps for channels; "
                "put a Flatten or a global pooling before it")
    c = entry.config
    layer = keras.layers.Dense(c["units"], activation=c["activation"], use_bias=c["use_bias"], name=entry.name)
    y = layer(xs[0])
    return _set(layer, [_np(m.weight).T] + ([_np(m.bias)] if c["use_bias"] else []), y), PLAIN


@converter("Conv1D", "Conv2D", "Conv3D")
def _conv(entry, m, xs, layouts, keras):
    c = entry.config
    nd = int(entry.kind[4])
    layer = getattr(keras.layers, entry.kind)(c["filters"], c["kernel_size"], strides=c["strides"],
                                               padding=c["padding"], dilation_rate=c["dilation_rate"],
                                               activation=c["activation"], use_bias=c["use_bias"], name=entry.name)
    y = layer(xs[0])
    w = _np(m.conv.weight)  # (O, I, *k) -> (*k, I, O)
    w = w.transpose(*range(2, 2 + nd), 1, 0)
    return _set(layer, [w] + ([_np(m.conv.bias)] if c["use_bias"] else []), y), layouts[0]


@converter(*(f"{w}Pooling{nd}D" for w in ("Max", "Average") for nd in (1, 2, 3)))
def _pool(entry, m, xs, layouts, keras):
    c = entry.config
    layer = getattr(keras.layers, entry.kind)(c["pool_size"], strides=c["strides"], padding=c["padding"],
                                               name=entry.name)
    return layer(xs[0]), layouts[0]


@converter(*(f"Global{w}Pooling{nd}D" for w in ("Max", "Average") for nd in (1, 2, 3)))
def _global_pool(entry, m, xs, layouts, keras):
    keep = bool(entry.config.get("keepdims", False))
    layer = getattr(keras.layers, entry.kind)(keepdims=keep, name=entry.name)
    return layer(xs[0]), (layouts[0] if keep else PLAIN)


@converter("Flatten")
def _flatten(entry, m, xs, layouts, keras):
    x = xs[0]
    if layouts[0] == CF:  # back to (C, H, W) so the flattened features keep DeepNodes' order
        rank = len(x.shape) - 1
        x = keras.layers.Permute((rank, *range(1, rank)), name=f"{entry.name}_channels_first")(x)
    return keras.layers.Flatten(name=entry.name)(x), PLAIN


@converter("Dropout")
def _dropout(entry, m, xs, layouts, keras):
    return keras.layers.Dropout(entry.config["rate"], name=entry.name)(xs[0]), layouts[0]


@converter("Activation")
def _activation(entry, m, xs, layouts, keras):
    c = entry.config
    if c["activation"] in ("softmax", "log_softmax") and layouts[0] == CF:
        _refuse(entry, "a softmax over an image tensor's axis; flatten or pool the image first")
    return keras.layers.Activation(c["activation"], name=entry.name)(xs[0]), layouts[0]


@converter("BatchNormalization")
def _batchnorm(entry, m, xs, layouts, keras):
    c = entry.config
    if c.get("axis") not in (None, -1) and not (c.get("axis") == 1 and layouts[0] == CF):
        _refuse(entry, f"axis {c['axis']} (only the channels of images or the last axis)")
    layer = keras.layers.BatchNormalization(axis=-1, momentum=c["momentum"], epsilon=c["epsilon"],
                                            center=c["center"], scale=c["scale"], name=entry.name)
    y = layer(xs[0])
    bn = m.bn
    ws = ([_np(bn.weight)] if c["scale"] else []) + ([_np(bn.bias)] if c["center"] else [])
    return _set(layer, ws + [_np(bn.running_mean), _np(bn.running_var)], y), layouts[0]


@converter("Embedding")
def _embedding(entry, m, xs, layouts, keras):
    c = entry.config
    layer = keras.layers.Embedding(c["input_dim"], c["output_dim"], mask_zero=c.get("mask_zero", False),
                                   name=entry.name)
    y = layer(xs[0])
    emb = getattr(m, "weight", None)
    if emb is None:
        emb = next(p for p in m.parameters())
    return _set(layer, [_np(emb)], y), PLAIN


def _gru_order(a: np.ndarray, axis: int) -> np.ndarray:
    r, z, n = np.split(a, 3, axis=axis)  # torch (r, z, n) -> Keras (z, r, h)
    return np.concatenate([z, r, n], axis=axis)


def _cell_weights(cell: str, rnn, use_bias: bool, suffix: str = "") -> list[np.ndarray]:
    """One direction's torch weights (`suffix` "_reverse": the backward one) in Keras' order and layout."""
    k, rk = _np(getattr(rnn, "weight_ih_l0" + suffix)), _np(getattr(rnn, "weight_hh_l0" + suffix))
    bias = (_np(getattr(rnn, "bias_ih_l0" + suffix)), _np(getattr(rnn, "bias_hh_l0" + suffix))) if use_bias else None
    if cell == "GRU":
        return [_gru_order(k, 0).T, _gru_order(rk, 0).T] + \
            ([np.stack([_gru_order(bias[0], 0), _gru_order(bias[1], 0)])] if bias else [])
    return [k.T, rk.T] + ([bias[0] + bias[1]] if bias else [])


def _cell(keras, cell: str, units: int, **kw):
    return keras.layers.GRU(units, reset_after=True, **kw) if cell == "GRU" else getattr(keras.layers, cell)(units, **kw)


@converter("LSTM", "GRU", "SimpleRNN", "Bidirectional")
def _recurrent(entry, m, xs, layouts, keras):
    c = entry.config
    if c.get("return_state"):
        _refuse(entry, "return_state (its extra outputs) is not carried over yet")
    if c.get("go_backwards") and c.get("return_sequences"):
        _refuse(entry, "go_backwards with return_sequences (Keras returns the steps in reverse order)")
    if c.get("go_backwards") and entry.kind == "Bidirectional":
        _refuse(entry, "go_backwards inside Bidirectional")
    cell = c["layer"] if entry.kind == "Bidirectional" else entry.kind
    kw = dict(activation=c["activation"], use_bias=c["use_bias"], return_sequences=c["return_sequences"],
              go_backwards=c["go_backwards"])
    ws = _cell_weights(cell, m.rnn, c["use_bias"])
    if entry.kind == "Bidirectional":  # torch's merged directions: forward then backward, aligned in time as Keras
        layer = keras.layers.Bidirectional(_cell(keras, cell, c["units"], **kw), merge_mode=c["merge_mode"],
                                           name=entry.name)
        ws += _cell_weights(cell, m.rnn, c["use_bias"], "_reverse")
    else:
        layer = _cell(keras, cell, c["units"], name=entry.name, **kw)
    y = layer(xs[0])
    return _set(layer, ws, y), PLAIN


def _attention(keras, m, name: str, use_bias: bool, q, v, k=None, causal: bool = False):
    """Keras' MultiHeadAttention for DeepNodes' module `m` (the same four projections): torch's (out, in) Linear
    weights become its EinsumDense kernels (in, heads, head_dim) and (heads, value_dim, out)."""
    h, kd, vd, out_f = m.heads, m.key_dim, m.value_dim, m.output.out_features
    layer = keras.layers.MultiHeadAttention(h, kd, value_dim=vd, use_bias=use_bias, output_shape=out_f, name=name)
    y = layer(q, v, key=k, use_causal_mask=causal)

    def proj(lin, d):
        return [_np(lin.weight).T.reshape(lin.in_features, h, d)] + ([_np(lin.bias).reshape(h, d)] if use_bias else [])

    out = [_np(m.output.weight).T.reshape(h, vd, out_f)] + ([_np(m.output.bias)] if use_bias else [])
    return _set(layer, proj(m.query, kd) + proj(m.key, kd) + proj(m.value, vd) + out, y)


@converter("MultiHeadAttention")
def _mha(entry, m, xs, layouts, keras):
    if CF in layouts:
        _refuse(entry, "an image input; attention takes sequences (T, F)")
    c = entry.config
    return _attention(keras, m, entry.name, c["use_bias"], xs[0], xs[1], xs[2] if len(xs) > 2 else None,
                      c["use_causal_mask"]), PLAIN


@converter("TransformerEncoder", "TransformerDecoder")
def _block(entry, m, xs, layouts, keras):
    """A Keras-Hub style block as Keras 3 core layers: attention (self, then cross on the encoder sequence), a
    feed-forward network, each with a residual Add and a LayerNormalization (post-norm, or pre-norm)."""
    if CF in layouts:
        _refuse(entry, "an image input; a Transformer block takes sequences (T, F)")
    L, n, pre = keras.layers, entry.name, m.normalize_first

    def residual(x, ln_m, sub: str, fn):
        ln = L.LayerNormalization(epsilon=ln_m.eps, name=f"{n}_{sub}_layer_norm")
        y = L.Add(name=f"{n}_{sub}_add")([fn(ln(x) if pre else x), x])
        y = y if pre else ln(y)
        ln.set_weights([_np(ln_m.weight), _np(ln_m.bias)])
        return y

    def dense(lin, units_act, t, sub):
        layer = L.Dense(lin.out_features, activation=units_act, name=f"{n}_{sub}")
        return _set(layer, [_np(lin.weight).T, _np(lin.bias)], layer(t))

    x = residual(xs[0], m.self_attention_layer_norm, "self_attention",
                 lambda h: _attention(keras, m.self_attention, f"{n}_self_attention", True, h, h,
                                      causal=m.self_attention.causal))
    if m.cross:
        if len(xs) < 2:
            _refuse(entry, "it was built for an encoder sequence but none is connected")
        x = residual(x, m.cross_attention_layer_norm, "cross_attention",
                     lambda h: _attention(keras, m.cross_attention, f"{n}_cross_attention", True, h, xs[1]))
    act = entry.config["activation"]
    return residual(x, m.feedforward_layer_norm, "feedforward",
                    lambda h: dense(m.feedforward_output_dense,
                                    None, dense(m.feedforward_intermediate_dense, act, h, "intermediate"),
                                    "output")), PLAIN


@converter("LayerNormalization")
def _layernorm(entry, m, xs, layouts, keras):
    c = entry.config
    axes = c["axis"] if isinstance(c["axis"], list) else [c["axis"]]
    rank = len(xs[0].shape)  # with the batch axis
    dims = sorted(a % rank for a in axes)
    if layouts[0] == CF and dims != list(range(1, rank)):
        _refuse(entry, "an image normalised over some of its axes (Keras keeps channels last); normalise the whole "
                       "image (axis [1, 2, 3]) or flatten first")
    layer = keras.layers.LayerNormalization(axis=dims if len(dims) > 1 else dims[0], epsilon=c["epsilon"],
                                            center=c["center"], scale=c["scale"], name=entry.name)
    y = layer(xs[0])
    w, b = _np(m.weight), _np(m.bias)
    if layouts[0] == CF:  # the (C, H, W) parameters in Keras' (H, W, C) order
        w, b = np.moveaxis(w, 0, -1), np.moveaxis(b, 0, -1)
    if not c["scale"] and not np.all(w == 1) or not c["center"] and not np.all(b == 0):
        _refuse(entry, "a frozen scale or offset that is not 1 / 0 (Keras has no weight for it)")
    return _set(layer, ([w] if c["scale"] else []) + ([b] if c["center"] else []), y), layouts[0]


@converter("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def _merge(entry, m, xs, layouts, keras):
    if len(set(layouts)) > 1:
        _refuse(entry, "its inputs mix image and non-image tensors")
    return getattr(keras.layers, entry.kind)(name=entry.name)(list(xs)), layouts[0]


@converter("Concatenate")
def _concat(entry, m, xs, layouts, keras):
    if len(set(layouts)) > 1:
        _refuse(entry, "its inputs mix image and non-image tensors")
    axis = entry.config["axis"]
    if layouts[0] == CF:  # DeepNodes (N, C, H, W) axis -> Keras (N, H, W, C) axis
        rank = len(xs[0].shape)
        a = axis % rank
        axis = rank - 1 if a == 1 else a - 1
    return keras.layers.Concatenate(axis=axis, name=entry.name)(list(xs)), layouts[0]


def to_keras_model(network):
    """The Keras model of `network` (a layer graph) with its weights; refuses with a sentence first."""
    spec = network.spec
    if not spec.layers:
        raise ExportError("the Keras format needs a network built from layer nodes; this network has no layer "
                          "graph (an imported or scripted module)")
    missing = [e for e in spec.layers if e.kind not in CONVERTERS]
    if missing:
        e = missing[0]
        raise ExportError(f"layer '{e.name}' ({e.kind}) has no Keras counterpart in DeepNodes' Keras export; "
                          "write the network as ONNX or native instead")
    if any(":" in t for e in spec.layers for t in e.inputs) or any(":" in t for t in spec.output_layers):
        raise ExportError("the Keras export carries single-output layers only; a layer's second output "
                          "(a recurrent state) is used in this network")
    keras = _keras()
    module = network.module
    tensors: dict[str, tuple] = {}
    for e in spec.layers:
        ins = [tensors[t] for t in e.inputs]
        sub = None if e.kind == "Input" else module.get_submodule(e.name)
        try:
            tensors[e.name] = CONVERTERS[e.kind](e, sub, [t[0] for t in ins], [t[1] for t in ins], keras)
        except ExportError:
            raise
        except Exception as ex:  # noqa: BLE001 - Keras refuses a config or a weight shape
            raise ExportError(f"layer '{e.name}' ({e.kind}) cannot be rebuilt in Keras: "
                              f"{str(ex).splitlines()[0][:200] if str(ex) else type(ex).__name__}") from None
    inputs = [tensors[t.name][0] for t in spec.inputs]
    outs = [tensors[n] for n in spec.output_layers]
    model = keras.Model(inputs, [o[0] for o in outs] if len(outs) > 1 else outs[0][0])
    return model, [tensors[t.name][1] for t in spec.inputs], [o[1] for o in outs]


def _to_keras_layout(x: np.ndarray, layout: str) -> np.ndarray:
    return np.moveaxis(x, 1, -1) if layout == CF else x


def compare(network, model, in_layouts, out_layouts, tolerance: float = TOLERANCE) -> float:
    """Largest absolute difference between DeepNodes' and the Keras model's outputs on example inputs; raises
    `ExportError` above `tolerance`."""
    xs = example_inputs(network.spec.inputs, batch=3, seed=1)
    with torch.no_grad():
        want = network.inference_module()(*xs)
    want = want if isinstance(want, tuple) else (want,)
    got = model.predict([_to_keras_layout(x.numpy(), lay) for x, lay in zip(xs, in_layouts)]
                        if len(xs) > 1 else _to_keras_layout(xs[0].numpy(), in_layouts[0]), verbose=0)
    got = got if isinstance(got, (list, tuple)) else [got]
    worst = 0.0
    for spec, w, g, lay in zip(network.spec.outputs, want, got, out_layouts):
        g = np.asarray(g.detach().cpu() if hasattr(g, "detach") else g)
        g = np.moveaxis(g, -1, 1) if lay == CF else g
        diff = float(np.max(np.abs(w.detach().cpu().numpy() - g))) if g.size else 0.0
        worst = max(worst, diff)
        if not diff <= tolerance:
            raise ExportError(f"the Keras model's output '{spec.name}' differs from DeepNodes' by {diff:.2e} "
                              f"(more than {tolerance:g}); the file was not written")
    return worst


def _is_keras_file(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "config.json" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def export_keras(network, path: str | Path, tolerance: float = TOLERANCE) -> Path:
    """Write `network` as a Keras 3 `.keras` file at `path` (see the module docstring)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ExportError(f"a Keras file must end in .keras; {path.name} does not")
    model, in_layouts, out_layouts = to_keras_model(network)  # refusals come before anything is written
    compare(network, model, in_layouts, out_layouts, tolerance)
    keras = _keras()

    def verify(tmp: Path) -> None:
        compare(network, keras.saving.load_model(str(tmp), compile=False), in_layouts, out_layouts, tolerance)

    try:
        replace_file(path, lambda tmp: model.save(str(tmp)), verify, owned=_is_keras_file, what="Keras file")
    except RefusedWrite as e:
        raise ExportError(str(e)) from None
    return path
