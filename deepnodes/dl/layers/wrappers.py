"""TimeDistributed: applies a layer of the catalogue to every step of a sequence."""
from __future__ import annotations

from ..spec import TensorSpec, fmt_shape
from .base import Layer, Opt, get_layer, register


@register
class TimeDistributed(Layer):
    """Applies one layer (`layer`, configured by `layer_config`) to every step of a sequence, with shared weights.

    Layout: (T, ...) -> (T, ...inner output); e.g. a Dense on (T, F) steps, or a Conv2D on (T, C, H, W) frames.
    """

    kind = "TimeDistributed"
    mask = "keep"
    family = "Wrappers"
    options = (Opt("layer", "str", "Dense", "kind of the inner layer (a catalogue name: Dense, Conv2D...)"),
               Opt("layer_config", "dict", {"units": 64}, "the inner layer's options"))

    @staticmethod
    def inner(input_specs, config):
        s = input_specs[0]
        if len(s.shape) < 2:
            raise ValueError(f"TimeDistributed needs a sequence (T, ...); it got {fmt_shape(s.shape)} from {s.name}")
        cls = get_layer(config["layer"])
        if cls.min_inputs != 1 or cls.kind in ("Input", "module"):
            raise ValueError(f"TimeDistributed wraps single-input layers; '{config['layer']}' is not one")
        step = TensorSpec(s.name, tuple(s.shape[1:]), s.dtype)
        return cls, cls.check_config(config["layer_config"]), step

    @staticmethod
    def compute_output_shape(input_specs, config):
        cls, cfg, step = TimeDistributed.inner(input_specs, config)
        out = cls.compute_output_shape([step], cfg)[0]
        return [TensorSpec("", (input_specs[0].shape[0],) + tuple(out.shape), out.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._wrapper_modules import TimeDistributed as M

        cls, cfg, step = TimeDistributed.inner(input_specs, config)
        return M(cls.build(cfg, [step]))
