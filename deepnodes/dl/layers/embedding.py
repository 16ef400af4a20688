"""Embedding: integer token ids -> dense vectors."""
from __future__ import annotations

from ..spec import TensorSpec, fmt_shape
from .base import INITIALIZERS, Layer, Opt, register


@register
class Embedding(Layer):
    """Turns integer token ids into learned vectors of size `output_dim`.

    Layout: token ids (T,) (int64) -> (T, output_dim); any shape of ids gains a last axis.

    Args:
        input_dim: vocabulary size (ids must be in 0..input_dim-1).
        output_dim: size of each vector.
    """

    kind = "Embedding"
    family = "Embedding"
    options = (Opt("input_dim", "int", 1000, "vocabulary size: ids are 0..input_dim-1", ge=1),
               Opt("output_dim", "int", 64, "size of each embedding vector", ge=1),
               Opt("embeddings_initializer", "str", "random_uniform", "initializer of the vectors",
                   choices=INITIALIZERS),
               Opt("embeddings_regularizer", "reg", None, "l1/l2 penalty on the vectors", nullable=True),
               Opt("mask_zero", "bool", False, "id 0 is padding: a mask starts here and the layers after it "
                   "(attention, recurrent, pooling, the loss) skip the padded steps"))
    layout = "(T,) int -> (T, output_dim)"

    @classmethod
    def mask_mode(cls, config):
        return "produce" if config.get("mask_zero") else "drop"

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        if s.dtype.startswith(("float", "bfloat")) and len(s.shape) >= 1 and s.shape[-1] not in (None, 1) \
                and len(s.shape) > 1:
            raise ValueError(f"Embedding needs token ids of shape (T,); it got {fmt_shape(s.shape)} {s.dtype} "
                             f"from {s.name}")
        return [TensorSpec("", tuple(s.shape) + (config["output_dim"],), "float32")]

    @staticmethod
    def build(config, input_specs):
        from ._embedding_modules import Embedding as M
        from ._modules import init_, set_regularizers

        m = M(config["input_dim"], config["output_dim"])
        init_(m.weight, config["embeddings_initializer"])
        set_regularizers(m, config, {"embeddings_regularizer": "weight"})
        return m
