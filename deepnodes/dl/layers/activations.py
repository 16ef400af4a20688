"""Activation layers with parameters: ELU, LeakyReLU, PReLU, ReLU, Softmax. Layout: any shape, unchanged."""
from __future__ import annotations

from ..spec import fmt_shape
from .base import INITIALIZERS, Layer, Opt, need_float, norm_axis, register


class _Elementwise(Layer):
    family = "Activations"
    layout = "any shape, unchanged"
    mask = "keep"

    @classmethod
    def compute_output_shape(cls, input_specs, config):
        need_float(cls.kind, input_specs[0])
        return [input_specs[0]]


@register
class ELU(_Elementwise):
    """Exponential linear unit: x for x > 0, alpha·(exp(x) − 1) otherwise.

    Layout: any shape, unchanged.
    """

    kind = "ELU"
    options = (Opt("alpha", "float", 1.0, "scale of the negative part"),)

    @staticmethod
    def build(config, input_specs):
        from torch import nn

        return nn.ELU(config["alpha"])


@register
class LeakyReLU(_Elementwise):
    """Leaky rectifier: x for x ≥ 0, negative_slope·x otherwise (Keras 3 default 0.3).

    Layout: any shape, unchanged.
    """

    kind = "LeakyReLU"
    options = (Opt("negative_slope", "float", 0.3, "slope for negative inputs", ge=0),)

    @staticmethod
    def build(config, input_specs):
        from torch import nn

        return nn.LeakyReLU(config["negative_slope"])


@register
class ReLU(_Elementwise):
    """Rectifier with Keras' options: max(x, 0) capped at `max_value`, `negative_slope`·(x − threshold) below
    `threshold`.

    Layout: any shape, unchanged.
    """

    kind = "ReLU"
    options = (Opt("max_value", "float", None, "upper bound of the output (null = none)", nullable=True, ge=0),
               Opt("negative_slope", "float", 0.0, "slope below the threshold", ge=0),
               Opt("threshold", "float", 0.0, "values below it are damped"))

    @staticmethod
    def build(config, input_specs):
        from ._activation_modules import ReLU as M

        return M(config["max_value"], config["negative_slope"], config["threshold"])


@register
class PReLU(_Elementwise):
    """Parametric rectifier: x for x ≥ 0, alpha·x otherwise, with one learned alpha per input value (shared along
    `shared_axes`, 1-based without batch; e.g. [2, 3] shares alpha over H and W of an image, one per channel).

    Layout: any known shape, unchanged.
    """

    kind = "PReLU"
    options = (Opt("alpha_initializer", "str", "zeros", "initializer of alpha", choices=INITIALIZERS),
               Opt("shared_axes", "intlist", [], "axes (1-based, batch excluded) that share one alpha"))

    @classmethod
    def compute_output_shape(cls, input_specs, config):
        s = input_specs[0]
        for a in config["shared_axes"]:
            if a < 1 or a > len(s.shape):
                raise ValueError(f"option 'shared_axes' of PReLU has axis {a}, outside 1..{len(s.shape)}")
        for i, d in enumerate(s.shape):
            if d is None and (i + 1) not in config["shared_axes"]:
                raise ValueError(f"PReLU needs a known size on every axis not in shared_axes; it got "
                                 f"{fmt_shape(s.shape)} from {s.name}")
        return super().compute_output_shape(input_specs, config)

    @staticmethod
    def build(config, input_specs):
        from ._activation_modules import PReLU as M

        shape = tuple(1 if (i + 1) in config["shared_axes"] else d for i, d in enumerate(input_specs[0].shape))
        return M(shape, config["alpha_initializer"])


@register
class Softmax(_Elementwise):
    """Softmax along `axis` (Keras numbering: batch is 0; -1 = last, the features).

    Layout: any shape, unchanged.
    """

    kind = "Softmax"
    options = (Opt("axis", "int", -1, "axis along which values sum to 1"),)

    @classmethod
    def compute_output_shape(cls, input_specs, config):
        norm_axis(config["axis"], len(input_specs[0].shape), "Softmax")
        return super().compute_output_shape(input_specs, config)

    @staticmethod
    def build(config, input_specs):
        from torch import nn

        return nn.Softmax(dim=norm_axis(config["axis"], len(input_specs[0].shape), "Softmax") + 1)
