"""Transformer layers (Keras-Hub names and defaults): PositionEmbedding, SinePositionEncoding, TransformerEncoder and
TransformerDecoder, on sequences (T, F). The torch modules are in `_transformer_modules.py`."""
from __future__ import annotations

from ..spec import TensorSpec, fmt_shape
from .base import ACTIVATIONS, INITIALIZERS, Layer, Opt, need_float, need_rank, register


def _seq(kind: str, s: TensorSpec, what: str = "an input") -> tuple:
    shape = need_rank(kind, s, 2, "(T, F)")
    need_float(kind, s)
    if shape[1] is None:
        raise ValueError(f"{kind} needs {what} with a known number of features F; it got {fmt_shape(shape)} "
                         f"from {s.name}")
    return shape


@register
class PositionEmbedding(Layer):
    """Adds a learned vector to each position of the sequence (Keras-Hub PositionEmbedding, summed with the
    input as in TokenAndPositionEmbedding).

    Layout: (T, F) -> (T, F); T at most sequence_length.
    """

    kind = "PositionEmbedding"
    mask = "keep"
    family = "Embedding"
    options = (Opt("sequence_length", "int", 512, "the number of positions that have a vector", ge=1),
               Opt("initializer", "str", "glorot_uniform", "initializer of the position vectors",
                   choices=INITIALIZERS))
    examples = [{"inputs": [[[9, 6], "float32"]], "config": {"sequence_length": 12}},
                {"inputs": [[[None, 4], "float32"]], "config": {"sequence_length": 16}}]

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        t, f = _seq("PositionEmbedding", s)
        if t is not None and t > config["sequence_length"]:
            raise ValueError(f"PositionEmbedding has {config['sequence_length']} positions; the sequence from "
                             f"{s.name} has {t} steps (raise sequence_length)")
        return [TensorSpec("", (t, f), s.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._modules import init_
        from ._transformer_modules import PositionEmbedding as M

        m = M(config["sequence_length"], input_specs[0].shape[1])
        init_(m.position_embeddings, config["initializer"])
        return m


@register
class SinePositionEncoding(Layer):
    """Adds the fixed sinusoidal position encoding of Vaswani et al. (Keras-Hub SinePositionEncoding): sin on
    even features, cos on odd ones; no weights, any length.

    Layout: (T, F) -> (T, F).
    """

    kind = "SinePositionEncoding"
    mask = "keep"
    family = "Embedding"
    options = (Opt("max_wavelength", "float", 10000.0, "the longest wavelength of the sinusoids", gt=0),)
    examples = [{"inputs": [[[9, 6], "float32"]], "config": {}}, {"inputs": [[[None, 5], "float32"]], "config": {}}]

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        return [TensorSpec("", _seq("SinePositionEncoding", s), s.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._transformer_modules import SinePositionEncoding as M

        return M(input_specs[0].shape[1], config["max_wavelength"])


def _block_options(decoder: bool) -> tuple[Opt, ...]:
    opts = [Opt("intermediate_dim", "int", 256, "size of the feed-forward network's hidden layer", ge=1),
            Opt("num_heads", "int", 4, "number of attention heads (each of size F // num_heads)", ge=1),
            Opt("dropout", "float", 0.0, "dropout on the attention weights and after each sub-block while training",
                ge=0, lt=1),
            Opt("activation", "str", "relu", "activation of the feed-forward hidden layer", choices=ACTIVATIONS),
            Opt("layer_norm_epsilon", "float", 1e-5, "epsilon of the layer normalizations", gt=0),
            Opt("kernel_initializer", "str", "glorot_uniform", "initializer of the dense and attention kernels",
                choices=INITIALIZERS),
            Opt("bias_initializer", "str", "zeros", "initializer of the biases", choices=INITIALIZERS),
            Opt("normalize_first", "bool", False, "layer norm before each sub-block (pre-norm, GPT-2) instead of "
                "after the residual add (post-norm, Vaswani et al.)")]
    if decoder:
        opts.append(Opt("use_causal_mask", "bool", True, "each step attends only to itself and earlier steps"))
    return tuple(opts)


def _block_shapes(kind: str, input_specs, config):
    s = input_specs[0]
    t, f = _seq(kind, s, "a sequence")
    if f < config["num_heads"]:
        raise ValueError(f"option 'num_heads' of {kind} is {config['num_heads']}, more than the {f} features of "
                         f"{s.name}")
    if len(input_specs) > 1:
        _seq(kind, input_specs[1], "an encoder sequence")
    return [TensorSpec("", (t, f), s.dtype)]


def _build_block(config, input_specs, decoder: bool):
    from ._transformer_modules import TransformerBlock

    f = input_specs[0].shape[1]
    cross = len(input_specs) > 1
    m = TransformerBlock(f, input_specs[1].shape[1] if cross else None, config["intermediate_dim"],
                         config["num_heads"], config["dropout"], config["activation"], config["layer_norm_epsilon"],
                         config["normalize_first"], decoder and config["use_causal_mask"], cross)
    m.init_(config)
    return m


@register
class TransformerEncoder(Layer):
    """One Transformer encoder block (Keras-Hub TransformerEncoder): multi-head self-attention and a feed-forward
    network, each with dropout, a residual connection and layer normalization (post-norm, or pre-norm with
    normalize_first). Padded steps (a mask from Embedding(mask_zero) or Masking) are not attended to.

    Layout: (T, F) -> (T, F); heads of size F // num_heads.
    """

    kind = "TransformerEncoder"
    mask = "keep"
    family = "Attention"
    options = _block_options(False)
    examples = [{"inputs": [[[9, 8], "float32"]], "config": {"intermediate_dim": 16, "num_heads": 2}},
                {"inputs": [[[None, 6], "float32"]], "config": {"intermediate_dim": 8, "num_heads": 3,
                                                                "normalize_first": True, "activation": "gelu"}}]

    @staticmethod
    def compute_output_shape(input_specs, config):
        return _block_shapes("TransformerEncoder", input_specs, config)

    @staticmethod
    def build(config, input_specs):
        return _build_block(config, input_specs, False)


@register
class TransformerDecoder(Layer):
    """One Transformer decoder block (Keras-Hub TransformerDecoder): causal multi-head self-attention, then
    cross-attention on the encoder sequence when one is connected, then a feed-forward network; each with
    dropout, a residual connection and layer normalization (post-norm, or pre-norm with normalize_first).
    Without an encoder sequence it is a decoder-only (GPT-style) block.

    Layout: (T, F)[, encoder (S, E)] -> (T, F); heads of size F // num_heads.
    """

    kind = "TransformerDecoder"
    mask = "keep"
    family = "Attention"
    input_names = ("decoder_sequence", "encoder_sequence")
    options = _block_options(True)
    examples = [{"inputs": [[[9, 8], "float32"]], "config": {"intermediate_dim": 16, "num_heads": 2}},
                {"inputs": [[[7, 8], "float32"], [[5, 6], "float32"]],
                 "config": {"intermediate_dim": 12, "num_heads": 4, "normalize_first": True}},
                {"inputs": [[[None, 4], "float32"], [[None, 4], "float32"]], "config": {"intermediate_dim": 8,
                                                                                       "num_heads": 2}}]

    @staticmethod
    def compute_output_shape(input_specs, config):
        return _block_shapes("TransformerDecoder", input_specs, config)

    @staticmethod
    def build(config, input_specs):
        return _build_block(config, input_specs, True)
