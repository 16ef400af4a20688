"""Pooling layers: Max/Average Pooling 1D/2D/3D and Global Max/Average Pooling 1D/2D/3D.

Layout (PyTorch): 2D on images (C, H, W), 3D on volumes (C, D, H, W), 1D on sequences (T, F) (pooled over T).
"""
from __future__ import annotations

from ..spec import TensorSpec
from .base import Layer, Opt, conv_len, need_float, need_rank, register, tup

LAYOUT = {1: "(T, F)", 2: "(C, H, W)", 3: "(C, D, H, W)"}


def _spatial(kind, nd, s):
    shape = need_rank(kind, s, nd + 1, LAYOUT[nd])
    need_float(kind, s)
    return (shape[0],) if nd == 1 else shape[1:]


def _make_pool(nd: int, mode: str):
    word = "Max" if mode == "max" else "Average"
    kind = f"{word}Pooling{nd}D"

    class P(Layer):
        family = "Pooling"
        options = (Opt("pool_size", "ints", 2, "size of the pooling window (one value or one per axis)"),
                   Opt("strides", "ints", None, "step of the window; null = pool_size", nullable=True),
                   Opt("padding", "str", "valid", "'valid' or 'same' (output size = input / strides)",
                       choices=("valid", "same")))
        layout = f"{LAYOUT[nd]} -> pooled {LAYOUT[nd]}"

        @staticmethod
        def geometry(config, _nd=nd, _kind=kind):
            k = tup(config["pool_size"], _nd, _kind, "pool_size")
            s = tup(config["strides"], _nd, _kind, "strides") if config["strides"] is not None else k
            return k, s

        @classmethod
        def compute_output_shape(cls, input_specs, config, _nd=nd, _kind=kind):
            s = input_specs[0]
            spatial = _spatial(_kind, _nd, s)
            k, st = cls.geometry(config)
            out = tuple(conv_len(n, kk, ss, 1, config["padding"]) for n, kk, ss in zip(spatial, k, st))
            if any(o is not None and o < 1 for o in out):
                raise ValueError(f"{_kind}: the pool_size {k} is larger than the input's size {tuple(spatial)} "
                                 f"from {s.name}")
            shape = (out[0], s.shape[1]) if _nd == 1 else (s.shape[0],) + out
            return [TensorSpec("", shape, s.dtype)]

        @classmethod
        def build(cls, config, input_specs, _nd=nd, _mode=mode):
            from ._pooling_modules import Pool

            k, s = cls.geometry(config)
            return Pool(_nd, _mode, k, s, config["padding"], seq=_nd == 1)

    P.kind = kind
    P.__name__ = P.__qualname__ = kind
    P.__doc__ = (f"{word} pooling over windows of `pool_size` (default 2, stride = pool_size).\n\n"
                 f"    Layout: {P.layout}.")
    return register(P)


def _make_global(nd: int, mode: str):
    word = "Max" if mode == "max" else "Average"
    kind = f"Global{word}Pooling{nd}D"

    class G(Layer):
        family = "Pooling"
        options = (Opt("keepdims", "bool", False, "keep the pooled axes with size 1"),)
        layout = f"{LAYOUT[nd]} -> ({'F' if nd == 1 else 'C'},)"

        @staticmethod
        def compute_output_shape(input_specs, config, _nd=nd, _kind=kind):
            s = input_specs[0]
            _spatial(_kind, _nd, s)
            if _nd == 1:
                shape = (1, s.shape[1]) if config["keepdims"] else (s.shape[1],)
            else:
                shape = (s.shape[0],) + ((1,) * _nd if config["keepdims"] else ())
            return [TensorSpec("", shape, s.dtype)]

        @staticmethod
        def build(config, input_specs, _nd=nd, _mode=mode):
            from ._pooling_modules import GlobalPool

            dims = (1,) if _nd == 1 else tuple(range(2, 2 + _nd))
            return GlobalPool(_mode, dims, config["keepdims"])

    G.kind = kind
    G.__name__ = G.__qualname__ = kind
    G.__doc__ = (f"Global {word.lower()} pooling: the {word.lower()} over all {'steps' if nd == 1 else 'positions'} "
                 f"of each {'feature' if nd == 1 else 'channel'}.\n\n    Layout: {G.layout}.")
    return register(G)


for _nd in (1, 2, 3):
    for _mode in ("max", "avg"):
        _make_pool(_nd, _mode)
        _make_global(_nd, _mode)
