"""Normalization layers: BatchNormalization and LayerNormalization."""
from __future__ import annotations

from ..spec import fmt_shape
from .base import Layer, Opt, need_float, norm_axis, register


@register
class BatchNormalization(Layer):
    """Normalises each feature (or channel) with batch statistics while training and running averages when applied.

    Layout: any shape, unchanged. `axis` null = the feature axis of PyTorch's layout: the channels (axis 1) of
    images (C, H, W) and volumes, the last axis of vectors (F,) and sequences (T, F).
    Options follow Keras: momentum 0.99 means running = 0.99·running + 0.01·batch.
    """

    kind = "BatchNormalization"
    mask = "keep"
    family = "Normalization"
    options = (Opt("axis", "int", None, "normalised axis (batch = 0); null = channels of images, else last",
                   nullable=True),
               Opt("momentum", "float", 0.99, "running-average momentum (Keras convention)", ge=0, le=1),
               Opt("epsilon", "float", 0.001, "added to the variance", gt=0),
               Opt("center", "bool", True, "learn an offset (beta)"),
               Opt("scale", "bool", True, "learn a scale (gamma)"))

    @staticmethod
    def axis(spec, config) -> int:
        rank = len(spec.shape)
        if config["axis"] is None:
            return 0 if rank >= 3 else rank - 1
        return norm_axis(config["axis"], rank, "BatchNormalization")

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        need_float("BatchNormalization", s)
        if not s.shape:
            raise ValueError(f"BatchNormalization needs an input with at least one axis; it got () from {s.name}")
        a = BatchNormalization.axis(s, config)
        if s.shape[a] is None:
            raise ValueError(f"BatchNormalization needs a known size on the normalised axis; it got "
                             f"{fmt_shape(s.shape)} from {s.name}")
        return [s]

    @staticmethod
    def build(config, input_specs):
        from ._normalization_modules import BatchNorm

        s = input_specs[0]
        a = BatchNormalization.axis(s, config)
        rank = len(s.shape)
        return BatchNorm(rank, a, s.shape[a], config["epsilon"], 1.0 - config["momentum"], config["center"],
                         config["scale"])


@register
class LayerNormalization(Layer):
    """Normalises each sample over the trailing `axis` (or axes) and applies a learned scale and offset.

    Layout: any shape, unchanged; the default -1 normalises the features of (F,) or each step of (T, F).
    """

    kind = "LayerNormalization"
    mask = "keep"
    family = "Normalization"
    options = (Opt("axis", "axis", -1, "axis or trailing axes to normalise over (batch = 0; -1 = last)"),
               Opt("epsilon", "float", 0.001, "added to the variance", gt=0),
               Opt("center", "bool", True, "learn an offset (beta)"),
               Opt("scale", "bool", True, "learn a scale (gamma)"))

    @staticmethod
    def dims(spec, config) -> list[int]:
        rank = len(spec.shape)
        ax = config["axis"] if isinstance(config["axis"], list) else [config["axis"]]
        dims = sorted(norm_axis(a, rank, "LayerNormalization") for a in ax)
        if dims != list(range(rank - len(dims), rank)):
            raise ValueError("option 'axis' of LayerNormalization must name the trailing axes (e.g. -1, or [1, 2, 3] "
                             "for a whole image)")
        return dims

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        need_float("LayerNormalization", s)
        dims = LayerNormalization.dims(s, config)
        if any(s.shape[d] is None for d in dims):
            raise ValueError(f"LayerNormalization needs known sizes on the normalised axes; it got "
                             f"{fmt_shape(s.shape)} from {s.name}")
        return [s]

    @staticmethod
    def build(config, input_specs):
        from ._normalization_modules import LayerNorm

        s = input_specs[0]
        dims = LayerNormalization.dims(s, config)
        m = LayerNorm(tuple(s.shape[d] for d in dims), eps=config["epsilon"])
        if not config["center"]:
            m.bias.requires_grad_(False)
        if not config["scale"]:
            m.weight.requires_grad_(False)
        return m
