"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot (2 to 5 inputs).

Layout: any; element-wise merges need inputs of one shape.
"""
from __future__ import annotations

from ..spec import TensorSpec, fmt_shape
from .base import Layer, Opt, norm_axis, register

INPUTS = ("input_1", "input_2", "input_3", "input_4", "input_5")


def _same_shapes(kind, specs):
    first = specs[0]
    for s in specs[1:]:
        if len(s.shape) != len(first.shape) or any(a is not None and b is not None and a != b
                                                   for a, b in zip(s.shape, first.shape)):
            raise ValueError(f"{kind} needs inputs of one shape; it got {fmt_shape(first.shape)} from {first.name} "
                             f"and {fmt_shape(s.shape)} from {s.name}")
    shape = tuple(next((d for d in dims if d is not None), None) for dims in zip(*[s.shape for s in specs]))
    return TensorSpec("", shape, first.dtype)


def _make(kind: str, op: str, doc: str, n_max: int = 5):
    class M(Layer):
        family = "Merge"
        mask = "merge"
        input_names = INPUTS[:n_max]
        min_inputs = 2
        layout = "k inputs of one shape -> that shape"

        @staticmethod
        def compute_output_shape(input_specs, config, _kind=kind):
            return [_same_shapes(_kind, input_specs)]

        @staticmethod
        def build(config, input_specs, _op=op):
            from ._merge_modules import Merge

            return Merge(_op)

    M.kind = kind
    M.__name__ = M.__qualname__ = kind
    M.__doc__ = doc + "\n\n    Layout: 2 to 5 inputs of the same shape -> that shape."
    return register(M)


Add = _make("Add", "add", "Adds its inputs element-wise (a residual connection).")
Subtract = _make("Subtract", "subtract", "Subtracts the second input from the first, element-wise.", 2)
Multiply = _make("Multiply", "multiply", "Multiplies its inputs element-wise (a gate).")
Average = _make("Average", "average", "Averages its inputs element-wise.")
Maximum = _make("Maximum", "maximum", "The element-wise maximum of its inputs.")
Minimum = _make("Minimum", "minimum", "The element-wise minimum of its inputs.")


@register
class Concatenate(Layer):
    """Concatenates its inputs along `axis` (Keras numbering: batch is 0; -1 = last).

    Layout: shapes equal except along `axis`. Features of vectors (F,) and sequences (T, F) are the last axis
    (the default); channels of images (C, H, W) are axis 1.
    """

    kind = "Concatenate"
    family = "Merge"
    input_names = INPUTS
    min_inputs = 2
    options = (Opt("axis", "int", -1, "axis to concatenate along (batch = 0; -1 = last; 1 = image channels)"),)

    @staticmethod
    def compute_output_shape(input_specs, config):
        first = input_specs[0]
        rank = len(first.shape)
        a = norm_axis(config["axis"], rank, "Concatenate")
        total = 0
        for s in input_specs:
            if len(s.shape) != rank or any(i != a and x is not None and y is not None and x != y
                                           for i, (x, y) in enumerate(zip(s.shape, first.shape))):
                raise ValueError(f"Concatenate needs inputs whose shapes differ only along axis {config['axis']}; it "
                                 f"got {fmt_shape(first.shape)} from {first.name} and {fmt_shape(s.shape)} from {s.name}")
            total = None if total is None or s.shape[a] is None else total + s.shape[a]
        shape = list(first.shape)
        shape[a] = total
        return [TensorSpec("", tuple(shape), first.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._merge_modules import Concatenate as M

        return M(norm_axis(config["axis"], len(input_specs[0].shape), "Concatenate") + 1)


@register
class Dot(Layer):
    """The dot product of two inputs along `axes` (Keras numbering: batch is 0).

    Layout: vectors (F,)·(F,) -> (1,); matrices (P, K)·(Q, K) with axes [2, 2] -> (P, Q) (e.g. attention scores
    between two sequences). `normalize` gives cosine similarities.
    """

    kind = "Dot"
    family = "Merge"
    input_names = INPUTS[:2]
    min_inputs = 2
    options = (Opt("axes", "axis", -1, "the axis of each input to contract: one value for both or [a, b]"),
               Opt("normalize", "bool", False, "l2-normalise along the axes first (cosine similarity)"))

    @staticmethod
    def axes(input_specs, config):
        a, b = input_specs
        ax = config["axes"]
        ax = (ax, ax) if isinstance(ax, int) else tuple(ax)
        if len(ax) != 2:
            raise ValueError("option 'axes' of Dot needs one value or two")
        return norm_axis(ax[0], len(a.shape), "Dot", "axes"), norm_axis(ax[1], len(b.shape), "Dot", "axes")

    @staticmethod
    def compute_output_shape(input_specs, config):
        a, b = input_specs
        if len(a.shape) not in (1, 2) or len(b.shape) != len(a.shape):
            raise ValueError(f"Dot needs two vectors (F,) or two matrices (T, F); it got {fmt_shape(a.shape)} from "
                             f"{a.name} and {fmt_shape(b.shape)} from {b.name}")
        ia, ib = Dot.axes(input_specs, config)
        if a.shape[ia] is not None and b.shape[ib] is not None and a.shape[ia] != b.shape[ib]:
            raise ValueError(f"Dot needs the contracted axes to have one size; {a.name} has {a.shape[ia]} and "
                             f"{b.name} has {b.shape[ib]}")
        if len(a.shape) == 1:
            return [TensorSpec("", (1,), a.dtype)]
        return [TensorSpec("", (a.shape[1 - ia], b.shape[1 - ib]), a.dtype)]

    @staticmethod
    def build(config, input_specs):
        from ._merge_modules import Dot as M

        ia, ib = Dot.axes(input_specs, config)
        return M(ia + 1, ib + 1, config["normalize"])
