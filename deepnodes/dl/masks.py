"""Padding masks through a layer graph (Keras semantics), the one place that decides where a mask goes.

A mask is an (N, T) bool tensor, True at real steps. It starts at a layer whose kind's `mask_mode(config)` is
"produce" (Embedding with mask_zero, Masking: the module's `compute_mask(*inputs)`), follows "keep" layers (the
output has the first input's steps: Dense, dropouts, normalizations, attention, the Transformer blocks, recurrent
layers with return_sequences) and "merge" layers (Add...: the inputs' masks and-ed), and stops at "drop" layers.
A module with `supports_masks = True` receives `masks=` (one mask or None per input) when any input has one:
attention hides padded keys, recurrent layers carry their state over padded steps, global pooling skips them.
The network's output masks reach the loss: masked positions do not count (`GraphModule.forward_masked`).
"""
from __future__ import annotations

from .layers import get_layer


def layer_modes(spec) -> list[str]:
    """The mask mode of each layer of `spec`, in order."""
    return [get_layer(layer.kind).mask_mode(layer.config) for layer in spec.layers]


def produces_masks(spec) -> bool:
    return any(m == "produce" for m in layer_modes(spec))


def call(module, args: list, in_masks: list):
    """Run one layer's module, handing it the input masks when it reads them and any is set."""
    if getattr(module, "supports_masks", False) and any(m is not None for m in in_masks):
        return module(*args, masks=in_masks)
    return module(*args)


def output_mask(mode: str, module, args: list, in_masks: list):
    """The mask of the layer's first output."""
    if mode == "produce":
        return module.compute_mask(*args)
    if mode == "keep":
        return in_masks[0] if in_masks else None
    if mode == "merge":
        out = None
        for m in in_masks:
            if m is not None:
                out = m if out is None else out & m
        return out
    return None


def forward_masked(module, *xs) -> tuple[tuple, tuple]:
    """(outputs, output masks) of any network module (no masks: a tuple of None)."""
    f = getattr(module, "forward_masked", None)
    if f is not None:
        return f(*xs)
    out = module(*xs)
    out = out if isinstance(out, tuple) else (out,)
    return out, (None,) * len(out)
