"""MultiHeadAttention (Keras semantics) on sequences (T, F)."""
from __future__ import annotations

from ..spec import TensorSpec, fmt_shape
from .base import Layer, Opt, need_float, register


@register
class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention (Vaswani et al.), Keras-style: inputs query (Tq, Fq), value (Tv, Fv)
    and an optional key (Tv, Fk) (default: value). Connect the same network to query and value for self-attention.

    Layout: (Tq, Fq), (Tv, Fv)[, (Tv, Fk)] -> (Tq, output_dim) (output_dim null = Fq); with
    return_attention_scores also 'name:1' = the weights (heads, Tq, Tv). Padded value steps (a mask from
    Embedding(mask_zero) or Masking) are not attended to.
    """

    kind = "MultiHeadAttention"
    mask = "keep"
    family = "Attention"
    input_names = ("query", "value", "key")
    min_inputs = 2
    options = (Opt("num_heads", "int", 2, "number of attention heads", ge=1),
               Opt("key_dim", "int", 32, "size of each head for query and key", ge=1),
               Opt("value_dim", "int", None, "size of each head for value (null = key_dim)", nullable=True, ge=1),
               Opt("dropout", "float", 0.0, "dropout on the attention weights while training", ge=0, lt=1),
               Opt("use_bias", "bool", True, "whether the projections have biases"),
               Opt("output_dim", "int", None, "size of the output features (null = the query's)", nullable=True, ge=1),
               Opt("use_causal_mask", "bool", False, "each query step sees only earlier steps (a decoder)"),
               Opt("return_attention_scores", "bool", False, "also output the attention weights (heads, Tq, Tv) "
                   "as 'name:1'"))

    @staticmethod
    def compute_output_shape(input_specs, config):
        for s, what in zip(input_specs, ("query", "value", "key")):
            if len(s.shape) != 2 or s.shape[1] is None:
                raise ValueError(f"MultiHeadAttention needs a {what} of shape (T, F); it got {fmt_shape(s.shape)} "
                                 f"from {s.name}")
            need_float("MultiHeadAttention", s)
        q, v = input_specs[0], input_specs[1]
        if len(input_specs) > 2 and input_specs[2].shape[0] not in (None, v.shape[0]) and v.shape[0] is not None:
            raise ValueError("MultiHeadAttention needs key and value of the same length")
        out = [TensorSpec("", (q.shape[0], config["output_dim"] or q.shape[1]), q.dtype)]
        if config["return_attention_scores"]:
            out.append(TensorSpec("", (config["num_heads"], q.shape[0], v.shape[0]), q.dtype))
        return out

    @staticmethod
    def build(config, input_specs):
        from ._attention_modules import MultiHeadAttention as M

        q, v = input_specs[0], input_specs[1]
        k = input_specs[2] if len(input_specs) > 2 else v
        return M(q.shape[1], v.shape[1], k.shape[1], config["num_heads"], config["key_dim"],
                 config["value_dim"] or config["key_dim"], config["output_dim"] or q.shape[1], config["dropout"],
                 config["use_bias"], config["use_causal_mask"], config["return_attention_scores"])
