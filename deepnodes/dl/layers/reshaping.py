"""Reshaping layers: Cropping, UpSampling and ZeroPadding in 1D (sequences (T, F), along T), 2D (images
(C, H, W)) and 3D (volumes (C, D, H, W))."""
from __future__ import annotations

from ..spec import TensorSpec
from .base import Layer, Opt, need_rank, pairs, register, tup

LAYOUT = {1: "(T, F)", 2: "(C, H, W)", 3: "(C, D, H, W)"}


def _spatial(kind, nd, s):
    shape = need_rank(kind, s, nd + 1, LAYOUT[nd])
    return (shape[0],) if nd == 1 else shape[1:]


def _with_spatial(nd, s, new):
    return TensorSpec("", (new[0], s.shape[1]) if nd == 1 else (s.shape[0],) + tuple(new), s.dtype)


def _fpad(pp):
    """((lo, hi) per axis, first axis first) -> F.pad's list (last axis first)."""
    out = []
    for lo, hi in reversed(pp):
        out += [lo, hi]
    return out


def _make_pad(nd):
    kind = f"ZeroPadding{nd}D"

    class P(Layer):
        family = "Reshaping"
        options = (Opt("padding", "pads", 1, "zeros added: one int for all sides, one per axis, or [before, after] "
                       "pairs per axis"),)
        layout = f"{LAYOUT[nd]} -> padded"

        @staticmethod
        def compute_output_shape(input_specs, config, _nd=nd, _kind=kind):
            s = input_specs[0]
            sp = _spatial(_kind, _nd, s)
            pp = pairs(config["padding"], _nd, _kind, "padding")
            return [_with_spatial(_nd, s, [None if n is None else n + lo + hi for n, (lo, hi) in zip(sp, pp)])]

        @staticmethod
        def build(config, input_specs, _nd=nd, _kind=kind):
            from ._reshaping_modules import Pad

            return Pad(_fpad(pairs(config["padding"], _nd, _kind, "padding")), seq=_nd == 1)

    P.kind = kind
    P.__name__ = P.__qualname__ = kind
    P.__doc__ = f"Adds zeros around the {'sequence (before and after the steps)' if nd == 1 else 'spatial axes'}.\n\n" \
                f"    Layout: {P.layout}."
    return register(P)


def _make_crop(nd):
    kind = f"Cropping{nd}D"

    class C(Layer):
        family = "Reshaping"
        options = (Opt("cropping", "pads", 1, "values removed: one int for all sides, one per axis, or "
                       "[before, after] pairs per axis"),)
        layout = f"{LAYOUT[nd]} -> cropped"

        @staticmethod
        def compute_output_shape(input_specs, config, _nd=nd, _kind=kind):
            s = input_specs[0]
            sp = _spatial(_kind, _nd, s)
            pp = pairs(config["cropping"], _nd, _kind, "cropping")
            new = [None if n is None else n - lo - hi for n, (lo, hi) in zip(sp, pp)]
            if any(n is not None and n < 1 for n in new):
                raise ValueError(f"{_kind} would crop the input {tuple(s.shape)} from {s.name} to nothing")
            return [_with_spatial(_nd, s, new)]

        @staticmethod
        def build(config, input_specs, _nd=nd, _kind=kind):
            from ._reshaping_modules import Crop

            return Crop(list(pairs(config["cropping"], _nd, _kind, "cropping")), seq=_nd == 1)

    C.kind = kind
    C.__name__ = C.__qualname__ = kind
    C.__doc__ = f"Removes values at the borders of the {'sequence' if nd == 1 else 'spatial axes'}.\n\n" \
                f"    Layout: {C.layout}."
    return register(C)


def _make_up(nd):
    kind = f"UpSampling{nd}D"

    class U(Layer):
        family = "Reshaping"
        options = (Opt("size", "ints", 2, "repetition factor (one value or one per axis)"),) + (
            (Opt("interpolation", "str", "nearest", "'nearest' or 'bilinear'", choices=("nearest", "bilinear")),)
            if nd == 2 else ())
        layout = f"{LAYOUT[nd]} -> upsampled"

        @staticmethod
        def compute_output_shape(input_specs, config, _nd=nd, _kind=kind):
            s = input_specs[0]
            sp = _spatial(_kind, _nd, s)
            f = tup(config["size"], _nd, _kind, "size")
            return [_with_spatial(_nd, s, [None if n is None else n * k for n, k in zip(sp, f)])]

        @staticmethod
        def build(config, input_specs, _nd=nd, _kind=kind):
            from ._reshaping_modules import UpSample

            return UpSample(tup(config["size"], _nd, _kind, "size"), config.get("interpolation", "nearest"),
                            seq=_nd == 1)

    U.kind = kind
    U.__name__ = U.__qualname__ = kind
    U.__doc__ = f"Repeats each {'step' if nd == 1 else 'position'} `size` times (nearest neighbour" \
                f"{'; or bilinear' if nd == 2 else ''}).\n\n    Layout: {U.layout}."
    return register(U)


for _nd in (1, 2, 3):
    _make_pad(_nd)
    _make_crop(_nd)
    _make_up(_nd)
