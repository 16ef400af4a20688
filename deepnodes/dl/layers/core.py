"""Core layers: Input, Dense, Dropout, Activation, Flatten, Reshape, Permute, RepeatVector, Masking."""
from __future__ import annotations

from ..spec import TensorSpec, fmt_shape
from .base import Layer, Opt, act_opt, init_opts, need_float, need_rank, prod, register, ACTIVATIONS

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool")


@register
class Input(Layer):
    """A network input.

    Args:
        shape: the tensor shape without the batch dimension, PyTorch layout: (C, H, W) for images,
            (T, F) for sequences, (T,) for token ids; -1 or null marks a variable size (a sequence length).
        dtype: the tensor's dtype ('int64' for token ids that feed an Embedding).

    Example: shape [1, 28, 28] for MNIST images, [100] with dtype int64 for 100 character ids.
    """

    kind = "Input"
    input_names = ()
    min_inputs = 0
    options = (Opt("shape", "shape", [1], "tensor shape without the batch dimension, PyTorch layout "
                   "((C, H, W) images, (T, F) sequences); -1 for a variable size"),
               Opt("dtype", "str", "float32", "tensor dtype ('int64' for token ids)", choices=DTYPES))
    layout = "any shape; images (C, H, W), sequences (T, F)"

    @staticmethod
    def compute_output_shape(input_specs, config):
        shape = tuple(None if d in (None, -1) else d for d in config["shape"])
        return [TensorSpec("", shape, config["dtype"])]

    @staticmethod
    def build(config, input_specs):
        from ._core_modules import Cast

        return Cast(config["dtype"])


@register
class Dense(Layer):
    """A fully connected layer: output = activation(input · W + b), applied to the last axis.

    Layout: (F,) -> (units,); on a sequence (T, F) -> (T, units) (each step alike).
    """

    kind = "Dense"
    mask = "keep"
    options = (Opt("units", "int", 64, "number of output units", ge=1), act_opt(), *init_opts())
    layout = "(..., F) -> (..., units)"

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        if len(s.shape) < 1 or s.shape[-1] is None:
            raise ValueError(f"Dense needs an input whose last axis has a known size; it got {fmt_shape(s.shape)} "
                             f"from {s.name}")
        need_float("Dense", s)
        return [TensorSpec("", s.shape[:-1] + (config["units"],), s.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._core_modules import Dense as M
        from ._modules import init_weight_bias, set_regularizers

        m = M(input_specs[0].shape[-1], config["units"], config["use_bias"], config["activation"])
        init_weight_bias(m, config)
        set_regularizers(m, config, {"kernel_regularizer": "weight", "bias_regularizer": "bias"})
        return m


@register
class Dropout(Layer):
    """Sets a random share `rate` of the input's values to zero while training (scaling the rest by 1/(1-rate)).

    Layout: any shape, unchanged.
    """

    kind = "Dropout"
    mask = "keep"
    options = (Opt("rate", "float", 0.5, "share of values dropped while training", ge=0, lt=1),)
    layout = "any shape, unchanged"

    @staticmethod
    def compute_output_shape(input_specs, config):
        return [input_specs[0]]

    @staticmethod
    def build(config, input_specs):
        from torch import nn

        return nn.Dropout(config["rate"])


@register
class Activation(Layer):
    """Applies an activation function element-wise (softmax / log_softmax over `axis`).

    Layout: any shape, unchanged.
    """

    kind = "Activation"
    mask = "keep"
    options = (Opt("activation", "str", "relu", "activation function", choices=ACTIVATIONS),
               Opt("axis", "int", -1, "axis of softmax / log_softmax (Keras numbering: batch is 0)"))
    layout = "any shape, unchanged"

    @staticmethod
    def compute_output_shape(input_specs, config):
        return [input_specs[0]]

    @staticmethod
    def build(config, input_specs):
        from ._core_modules import Act

        return Act(config["activation"], config["axis"])


@register
class Flatten(Layer):
    """Flattens everything but the batch dimension: (C, H, W) -> (C·H·W,).

    Layout: any known shape -> (n,).
    """

    kind = "Flatten"
    layout = "(d1, d2, ...) -> (d1·d2·...,)"

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        n = prod(s.shape)
        if n is None:
            raise ValueError(f"Flatten needs an input of known shape; it got {fmt_shape(s.shape)} from {s.name}")
        return [TensorSpec("", (n,), s.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._core_modules import Flatten as M

        return M()


@register
class Reshape(Layer):
    """Reshapes to `target_shape` (without the batch dimension; one entry may be -1).

    Layout: any known shape -> target_shape, same number of values.
    """

    kind = "Reshape"
    options = (Opt("target_shape", "shape", [-1], "new shape without the batch dimension; one entry may be -1"),)

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        t = [(-1 if d is None else d) for d in config["target_shape"]]
        n = prod(s.shape)
        if n is None:
            raise ValueError(f"Reshape needs an input of known shape; it got {fmt_shape(s.shape)} from {s.name}")
        if t.count(-1) > 1:
            raise ValueError("option 'target_shape' of Reshape may hold -1 only once")
        known = 1
        for d in t:
            known *= d if d != -1 else 1
        if (-1 in t and n % known) or (-1 not in t and known != n):
            raise ValueError(f"Reshape cannot turn {fmt_shape(s.shape)} from {s.name} ({n} values) into "
                             f"{fmt_shape(tuple(t))}")
        return [TensorSpec("", tuple(n // known if d == -1 else d for d in t), s.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._core_modules import Reshape as M

        out = Reshape.compute_output_shape(input_specs, config)[0]
        return M(out.shape)


@register
class Permute(Layer):
    """Permutes the axes (1-based, without the batch dimension, like Keras): dims [2, 1] swaps (T, F) to (F, T).

    Layout: any shape -> the permuted shape.
    """

    kind = "Permute"
    options = (Opt("dims", "intlist", [2, 1], "the new order of the axes, 1-based, batch excluded"),)

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        dims = config["dims"]
        if sorted(dims) != list(range(1, len(s.shape) + 1)):
            raise ValueError(f"option 'dims' of Permute must be a permutation of 1..{len(s.shape)} for the input "
                             f"{fmt_shape(s.shape)} from {s.name}; it is {dims}")
        return [TensorSpec("", tuple(s.shape[d - 1] for d in dims), s.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._core_modules import Permute as M

        return M(tuple(config["dims"]))


@register
class RepeatVector(Layer):
    """Repeats a vector n times, e.g. to feed an encoding to a decoder RNN at every step.

    Layout: (F,) -> (n, F).
    """

    kind = "RepeatVector"
    options = (Opt("n", "int", 2, "number of repetitions (the new time axis)", ge=1),)

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        (f,) = need_rank("RepeatVector", s, 1, "(F,)")
        return [TensorSpec("", (config["n"], f), s.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._core_modules import RepeatVector as M

        return M(config["n"])


@register
class Masking(Layer):
    """Zeroes the timesteps of a sequence (T, F) whose features all equal `mask_value` (padding steps).

    Unlike Keras no mask travels to later layers: the masked steps become zero vectors.

    Layout: (T, F), unchanged.
    """

    kind = "Masking"
    mask = "produce"
    options = (Opt("mask_value", "float", 0.0, "feature value that marks a padding step"),)

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        need_rank("Masking", s, 2, "(T, F)")
        return [s]

    @staticmethod
    def build(config, input_specs):
        from ._core_modules import Masking as M

        return M(config["mask_value"])
