"""Noise and dropout layers active only while training: GaussianNoise, GaussianDropout, AlphaDropout,
SpatialDropout1D/2D/3D."""
from __future__ import annotations

from .base import Layer, Opt, need_float, need_rank, register

RATE = Opt("rate", "float", 0.5, "drop probability while training", ge=0, lt=1)


@register
class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation `stddev` while training.

    Layout: any shape, unchanged.
    """

    kind = "GaussianNoise"
    mask = "keep"
    family = "Noise"
    options = (Opt("stddev", "float", 0.1, "standard deviation of the noise", ge=0),)

    @staticmethod
    def compute_output_shape(input_specs, config):
        need_float("GaussianNoise", input_specs[0])
        return [input_specs[0]]

    @staticmethod
    def build(config, input_specs):
        from ._noise_modules import GaussianNoise as M

        return M(config["stddev"])


@register
class GaussianDropout(Layer):
    """Multiplies the input by Gaussian noise of mean 1 and variance rate / (1 − rate) while training.

    Layout: any shape, unchanged.
    """

    kind = "GaussianDropout"
    mask = "keep"
    family = "Noise"
    options = (RATE,)

    @staticmethod
    def compute_output_shape(input_specs, config):
        need_float("GaussianDropout", input_specs[0])
        return [input_specs[0]]

    @staticmethod
    def build(config, input_specs):
        from ._noise_modules import GaussianDropout as M

        return M(config["rate"])


@register
class AlphaDropout(Layer):
    """Dropout that keeps the mean and variance of its input (for SELU networks) while training.

    Layout: any shape, unchanged.
    """

    kind = "AlphaDropout"
    mask = "keep"
    family = "Noise"
    options = (RATE,)

    @staticmethod
    def compute_output_shape(input_specs, config):
        need_float("AlphaDropout", input_specs[0])
        return [input_specs[0]]

    @staticmethod
    def build(config, input_specs):
        from torch import nn

        return nn.AlphaDropout(config["rate"])


def _make_spatial(nd: int):
    want = {1: "(T, F)", 2: "(C, H, W)", 3: "(C, D, H, W)"}[nd]

    class S(Layer):
        family = "Noise"
        mask = "keep"
        options = (RATE,)

        @staticmethod
        def compute_output_shape(input_specs, config, _nd=nd, _want=want):
            need_rank(f"SpatialDropout{_nd}D", input_specs[0], _nd + 1, _want)
            return [input_specs[0]]

        @staticmethod
        def build(config, input_specs, _nd=nd):
            from torch import nn

            from ._noise_modules import SpatialDropout1D

            if _nd == 1:
                return SpatialDropout1D(config["rate"])
            return (nn.Dropout2d if _nd == 2 else nn.Dropout3d)(config["rate"])

    S.kind = f"SpatialDropout{nd}D"
    S.__name__ = S.__qualname__ = S.kind
    what = "features (the same at every step)" if nd == 1 else "channels (whole feature maps)"
    S.__doc__ = f"Drops whole {what} while training.\n\n    Layout: {want}, unchanged."
    return register(S)


SpatialDropout1D = _make_spatial(1)
SpatialDropout2D = _make_spatial(2)
SpatialDropout3D = _make_spatial(3)
