"""Incremental decoding of Transformer layers for `decode.GraphRunner`: key/value caches and position offsets.

A stepped self-attention layer (MultiHeadAttention with use_causal_mask, TransformerDecoder) keeps the keys and
values of every step seen so far in a cache (a dict of tensors, batch first); each new slice attends to them
through the rectangular causal mask (`_attention_modules.attention_bias` with an offset), so the tokens generated
so far are never re-run. Cross-attention on the encoder's sequence computes its keys and values once. Position
layers carry the number of steps seen. The result equals re-running the whole sequence (tests: within 1e-5).
"""
from __future__ import annotations

from typing import Any

import torch

CACHED_KINDS = {"MultiHeadAttention", "TransformerDecoder"}
POSITION_KINDS = {"PositionEmbedding", "SinePositionEncoding"}
KINDS = CACHED_KINDS | POSITION_KINDS


def check(layer, dependent: set[str], step_input: str, layer_of) -> str | None:
    """Why `layer` cannot run step by step after `step_input` (one sentence), or None."""
    if layer.kind == "MultiHeadAttention":
        q_dep = layer_of(layer.inputs[0]) in dependent
        kv_dep = any(layer_of(t) in dependent for t in layer.inputs[1:])
        if kv_dep and not q_dep:
            return (f"the query of attention layer '{layer.name}' comes from the encoder but its value depends on "
                    f"the stepped input '{step_input}'")
        if kv_dep and not layer.config.get("use_causal_mask"):
            return (f"self-attention layer '{layer.name}' is not causal (use_causal_mask), so each step sees later "
                    "ones and the network cannot generate step by step")
    if layer.kind == "TransformerDecoder":
        if not layer.config.get("use_causal_mask", True):
            return (f"layer '{layer.name}' (TransformerDecoder) is not causal (use_causal_mask), so the network "
                    "cannot generate step by step")
        if len(layer.inputs) > 1 and layer_of(layer.inputs[1]) in dependent:
            return (f"the encoder sequence of layer '{layer.name}' depends on the stepped input '{step_input}'; it "
                    "must come from the encoder")
    return None


def _copy(cache: dict) -> dict:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in cache.items()}


def run(kind: str, module, xs: list, masks: list, state: Any, dependent_value: bool):
    """One layer on a slice: (its outputs, its new state). The caller's state is never changed."""
    if kind in POSITION_KINDS:
        offset = state or 0
        return module(xs[0], offset=offset), offset + xs[0].shape[1]
    fresh = {} if dependent_value or kind == "TransformerDecoder" else {"static": True}  # static: cross-attention
    cache = _copy(state) if state else fresh
    return module(*xs, masks=masks, cache=cache), cache


def reorder(state: Any, index: torch.Tensor) -> Any:
    """Pick batch rows (beam search) from a cache or an offset."""
    if isinstance(state, dict):
        return {k: reorder(v, index) if isinstance(v, (dict, torch.Tensor)) else v for k, v in state.items()}
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index.to(state.device))
    return state
