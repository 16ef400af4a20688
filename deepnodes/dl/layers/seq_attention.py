"""Attention over an encoder's sequence for encoder-decoders: Keras's `Attention` (Luong, dot-product) and
`AdditiveAttention` (Bahdanau)."""
from __future__ import annotations

from ..spec import TensorSpec, fmt_shape
from .base import Layer, Opt, need_float, register


def _shape(kind: str, input_specs: list[TensorSpec], config: dict) -> list[TensorSpec]:
    q, v = input_specs[0], input_specs[1]
    for s, what in ((q, "query"), (v, "value")):
        if len(s.shape) != 2 or s.shape[1] is None:
            raise ValueError(f"{kind} needs a {what} of shape (T, D); it got {fmt_shape(s.shape)} from {s.name}")
        need_float(kind, s)
    if q.shape[1] != v.shape[1]:
        raise ValueError(f"{kind} needs query and value with the same feature size D; the query from {q.name} has "
                         f"{q.shape[1]}, the value from {v.name} has {v.shape[1]}")
    if len(input_specs) > 2:
        ids = input_specs[2]
        if len(ids.shape) != 1 or ids.dtype.startswith(("float", "bfloat")):
            raise ValueError(f"{kind}'s value_ids input needs token ids of shape (T,); it got "
                             f"{fmt_shape(ids.shape)} {ids.dtype} from {ids.name}")
        if None not in (ids.shape[0], v.shape[0]) and ids.shape[0] != v.shape[0]:
            raise ValueError(f"{kind}'s value_ids from {ids.name} have {ids.shape[0]} steps but the value from "
                             f"{v.name} has {v.shape[0]}")
    outs = [TensorSpec("", (q.shape[0], q.shape[1]), q.dtype)]
    if config["return_attention_scores"]:
        outs.append(TensorSpec("", (q.shape[0], v.shape[0]), q.dtype))
    return outs


_COMMON = (Opt("dropout", "float", 0.0, "dropout rate on the attention weights while training", ge=0, lt=1),
           Opt("return_attention_scores", "bool", False, "also output the attention weights (Tq, Tv) as 'name:1'"))


@register
class Attention(Layer):
    """Dot-product attention (Luong), as Keras's `Attention`: each query step attends over the value steps.

    Layout: query (Tq, D), value (Tv, D) -> (Tq, D); scores = query · valueᵀ (times a learned scalar with
    use_scale), softmax over Tv, output = weights · value. The optional third input, the value's token ids
    (Tv,), masks padding steps (id 0). The value is also the key. Concatenate the output with the query
    before the output layer, as in Luong et al.
    """

    kind = "Attention"
    mask = "keep"
    family = "Attention"
    input_names = ("query", "value", "value_ids")
    min_inputs = 2
    options = (Opt("use_scale", "bool", False, "multiply the scores by a learned scalar"),
               Opt("score_mode", "str", "dot", "'dot' (q·k) or 'concat' (sum of tanh(q + k))", choices=("dot", "concat")),
               *_COMMON)
    layout = "query (Tq, D), value (Tv, D)[, value_ids (Tv,)] -> (Tq, D)"

    @staticmethod
    def compute_output_shape(input_specs, config):
        return _shape("Attention", input_specs, config)

    @staticmethod
    def build(config, input_specs):
        from ._seq_attention_modules import SeqAttention

        return SeqAttention(input_specs[0].shape[1], False, config["use_scale"], config["score_mode"],
                            config["dropout"], config["return_attention_scores"])


@register
class AdditiveAttention(Layer):
    """Additive attention (Bahdanau), as Keras's `AdditiveAttention`.

    Layout: query (Tq, D), value (Tv, D) -> (Tq, D); scores = Σ scale · tanh(query + key) over D (a learned
    vector scale with use_scale), softmax over Tv, output = weights · value. The optional third input, the
    value's token ids (Tv,), masks padding steps (id 0).
    """

    kind = "AdditiveAttention"
    mask = "keep"
    family = "Attention"
    input_names = ("query", "value", "value_ids")
    min_inputs = 2
    options = (Opt("use_scale", "bool", True, "multiply by a learned vector before summing over D"), *_COMMON)
    layout = "query (Tq, D), value (Tv, D)[, value_ids (Tv,)] -> (Tq, D)"

    @staticmethod
    def compute_output_shape(input_specs, config):
        return _shape("AdditiveAttention", input_specs, config)

    @staticmethod
    def build(config, input_specs):
        from ._seq_attention_modules import SeqAttention

        return SeqAttention(input_specs[0].shape[1], True, config["use_scale"], "concat", config["dropout"],
                            config["return_attention_scores"])
