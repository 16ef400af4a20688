"""Convolution layers: Conv1D/2D/3D, SeparableConv1D/2D, DepthwiseConv2D, Conv1D/2D/3DTranspose.

Layout (PyTorch): 2D layers take images (C, H, W), 3D layers volumes (C, D, H, W); 1D layers take sequences
(T, F) like the recurrent layers (steps first, the filters become the features).
"""
from __future__ import annotations

from ..spec import TensorSpec
from .base import Layer, Opt, act_opt, conv_len, init_opts, need_float, need_rank, register, tup

LAYOUT = {1: ("(T, F)", "(T', filters)"), 2: ("(C, H, W)", "(filters, H', W')"), 3: ("(C, D, H, W)", "(filters, D', H', W')")}


def _split(kind: str, nd: int, s: TensorSpec):
    """(channels, spatial sizes) of a conv input, with a worded error."""
    shape = need_rank(kind, s, nd + 1, LAYOUT[nd][0])
    need_float(kind, s)
    if nd == 1:
        ch, spatial = shape[1], (shape[0],)
    else:
        ch, spatial = shape[0], shape[1:]
    if ch is None:
        raise ValueError(f"{kind} needs a known number of channels; it got {shape} from {s.name}")
    return ch, spatial


def _out(nd, filters, spatial, dtype):
    return TensorSpec("", (spatial[0], filters) if nd == 1 else (filters,) + tuple(spatial), dtype)


def _geometry(kind, nd, config, spatial, name_of=""):
    k = tup(config["kernel_size"], nd, kind, "kernel_size")
    s = tup(config["strides"], nd, kind, "strides")
    d = tup(config.get("dilation_rate", 1), nd, kind, "dilation_rate")
    if any(x > 1 for x in s) and any(x > 1 for x in d):
        raise ValueError(f"{kind} cannot combine strides > 1 with dilation_rate > 1 (as in Keras)")
    out = tuple(conv_len(n, kk, ss, dd, config["padding"]) for n, kk, ss, dd in zip(spatial, k, s, d))
    if any(o is not None and o < 1 for o in out):
        raise ValueError(f"{kind}: the kernel {k} is larger than the input's spatial size {tuple(spatial)} from "
                         f"{name_of} with padding 'valid'")
    return k, s, d, out


def _conv_options(filters=True, depth_multiplier=False, kernel="kernel"):
    opts = []
    if filters:
        opts.append(Opt("filters", "int", 32, "number of output channels (filters)", ge=1))
    opts += [Opt("kernel_size", "ints", 3, "size of the convolution window (one value or one per axis)"),
             Opt("strides", "ints", 1, "step of the window (one value or one per axis)"),
             Opt("padding", "str", "valid", "'valid' (no padding) or 'same' (output size = input / strides)",
                 choices=("valid", "same")),
             Opt("dilation_rate", "ints", 1, "spacing of the kernel's taps (one value or one per axis)")]
    if depth_multiplier:
        opts.append(Opt("depth_multiplier", "int", 1, "output channels per input channel of the depthwise step", ge=1))
    opts.append(act_opt())
    opts += list(init_opts(kernel))
    return tuple(opts)


def _make_conv(nd: int):
    class ConvND(Layer):
        kind = f"Conv{nd}D"
        family = "Convolution"
        options = _conv_options()
        layout = f"{LAYOUT[nd][0]} -> {LAYOUT[nd][1]}"

        @staticmethod
        def compute_output_shape(input_specs, config, _nd=nd, _kind=f"Conv{nd}D"):
            s = input_specs[0]
            ch, spatial = _split(_kind, _nd, s)
            _, _, _, out = _geometry(_kind, _nd, config, spatial, s.name)
            return [_out(_nd, config["filters"], out, s.dtype)]

        @staticmethod
        def build(config, input_specs, _nd=nd, _kind=f"Conv{nd}D"):
            from ._conv_modules import Conv
            from ._modules import init_weight_bias, set_regularizers

            ch, spatial = _split(_kind, _nd, input_specs[0])
            k, s, d, _ = _geometry(_kind, _nd, config, spatial)
            m = Conv(_nd, ch, config["filters"], k, s, d, config["padding"], 1, config["use_bias"],
                     config["activation"], seq=_nd == 1)
            init_weight_bias(m.conv, config)
            set_regularizers(m, config, {"kernel_regularizer": "conv.weight", "bias_regularizer": "conv.bias"})
            return m

    ConvND.__name__ = ConvND.__qualname__ = f"Conv{nd}D"
    ConvND.__doc__ = (f"A {nd}D convolution: `filters` kernels of `kernel_size` slide over the input with `strides`; "
                      f"padding 'same' keeps size / strides (Keras rule).\n\n    Layout: {ConvND.layout}.")
    return register(ConvND)


Conv1D = _make_conv(1)
Conv2D = _make_conv(2)
Conv3D = _make_conv(3)


def _make_separable(nd: int):
    class Sep(Layer):
        kind = f"SeparableConv{nd}D"
        family = "Convolution"
        options = _conv_options(depth_multiplier=True, kernel="pointwise")[:]
        layout = f"{LAYOUT[nd][0]} -> {LAYOUT[nd][1]}"

        @staticmethod
        def compute_output_shape(input_specs, config, _nd=nd, _kind=f"SeparableConv{nd}D"):
            s = input_specs[0]
            _, spatial = _split(_kind, _nd, s)
            _, _, _, out = _geometry(_kind, _nd, config, spatial, s.name)
            return [_out(_nd, config["filters"], out, s.dtype)]

        @staticmethod
        def build(config, input_specs, _nd=nd, _kind=f"SeparableConv{nd}D"):
            from ._conv_modules import SeparableConv
            from ._modules import init_, set_regularizers

            ch, spatial = _split(_kind, _nd, input_specs[0])
            k, s, d, _ = _geometry(_kind, _nd, config, spatial)
            m = SeparableConv(_nd, ch, config["filters"], k, s, d, config["padding"], config["depth_multiplier"],
                              config["use_bias"], config["activation"], seq=_nd == 1)
            init_(m.depthwise.conv.weight, config["depthwise_initializer"])
            init_(m.pointwise.conv.weight, config["pointwise_initializer"])
            if m.pointwise.conv.bias is not None:
                init_(m.pointwise.conv.bias, config["bias_initializer"])
            set_regularizers(m, config, {"depthwise_regularizer": "depthwise.conv.weight",
                                         "pointwise_regularizer": "pointwise.conv.weight",
                                         "bias_regularizer": "pointwise.conv.bias"})
            return m

    Sep.options = Sep.options + (
        Opt("depthwise_initializer", "str", "glorot_uniform", "initializer of the depthwise kernel"),
        Opt("depthwise_regularizer", "reg", None, "l1/l2 penalty on the depthwise kernel", nullable=True))
    Sep.__name__ = Sep.__qualname__ = f"SeparableConv{nd}D"
    Sep.__doc__ = (f"A depthwise-separable {nd}D convolution: a per-channel (depthwise) convolution followed by a "
                   f"1×1 (pointwise) convolution to `filters` channels.\n\n    Layout: {Sep.layout}.")
    return register(Sep)


SeparableConv1D = _make_separable(1)
SeparableConv2D = _make_separable(2)


@register
class DepthwiseConv2D(Layer):
    """A depthwise 2D convolution: each input channel gets its own `depth_multiplier` kernels.

    Layout: (C, H, W) -> (C·depth_multiplier, H', W').
    """

    kind = "DepthwiseConv2D"
    family = "Convolution"
    options = _conv_options(filters=False, depth_multiplier=True, kernel="depthwise")
    layout = "(C, H, W) -> (C·depth_multiplier, H', W')"

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        ch, spatial = _split("DepthwiseConv2D", 2, s)
        _, _, _, out = _geometry("DepthwiseConv2D", 2, config, spatial, s.name)
        return [_out(2, ch * config["depth_multiplier"], out, s.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._conv_modules import Conv
        from ._modules import init_weight_bias, set_regularizers

        ch, spatial = _split("DepthwiseConv2D", 2, input_specs[0])
        k, s, d, _ = _geometry("DepthwiseConv2D", 2, config, spatial)
        m = Conv(2, ch, ch * config["depth_multiplier"], k, s, d, config["padding"], ch, config["use_bias"],
                 config["activation"])
        init_weight_bias(m.conv, config, kernel="depthwise")
        set_regularizers(m, config, {"depthwise_regularizer": "conv.weight", "bias_regularizer": "conv.bias"})
        return m


def _make_transpose(nd: int):
    class Tr(Layer):
        kind = f"Conv{nd}DTranspose"
        family = "Convolution"
        options = _conv_options()
        layout = f"{LAYOUT[nd][0]} -> {LAYOUT[nd][1]} (upsampled)"

        @staticmethod
        def compute_output_shape(input_specs, config, _nd=nd, _kind=f"Conv{nd}DTranspose"):
            s = input_specs[0]
            _, spatial = _split(_kind, _nd, s)
            k = tup(config["kernel_size"], _nd, _kind, "kernel_size")
            st = tup(config["strides"], _nd, _kind, "strides")
            d = tup(config["dilation_rate"], _nd, _kind, "dilation_rate")
            out = []
            for n, kk, ss, dd in zip(spatial, k, st, d):
                if n is None:
                    out.append(None)
                elif config["padding"] == "same":
                    out.append(n * ss)
                else:
                    out.append((n - 1) * ss + dd * (kk - 1) + 1)
            return [_out(_nd, config["filters"], out, s.dtype)]

        @staticmethod
        def build(config, input_specs, _nd=nd, _kind=f"Conv{nd}DTranspose"):
            from ._conv_modules import ConvTranspose
            from ._modules import init_weight_bias, set_regularizers

            ch, _ = _split(_kind, _nd, input_specs[0])
            k = tup(config["kernel_size"], _nd, _kind, "kernel_size")
            st = tup(config["strides"], _nd, _kind, "strides")
            d = tup(config["dilation_rate"], _nd, _kind, "dilation_rate")
            m = ConvTranspose(_nd, ch, config["filters"], k, st, d, config["padding"], config["use_bias"],
                              config["activation"], seq=_nd == 1)
            init_weight_bias(m.conv, config)
            set_regularizers(m, config, {"kernel_regularizer": "conv.weight", "bias_regularizer": "conv.bias"})
            return m

    Tr.__name__ = Tr.__qualname__ = f"Conv{nd}DTranspose"
    Tr.__doc__ = (f"A transposed {nd}D convolution (a learned upsampling): 'same' padding gives size × strides, "
                  f"'valid' (size − 1) × strides + kernel_size.\n\n    Layout: {Tr.layout}.")
    return register(Tr)


Conv1DTranspose = _make_transpose(1)
Conv2DTranspose = _make_transpose(2)
Conv3DTranspose = _make_transpose(3)
