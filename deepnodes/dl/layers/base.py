"""The layer catalogue's contract. Pure Python: nothing here (nor in any layer module's top level) imports torch.

A layer kind is a `Layer` subclass registered with `@register`. It declares

- `options`: its plain config-dict contract (`Opt` entries, Keras option names and defaults),
- `compute_output_shape(input_specs, config) -> list[TensorSpec]`: shape inference in pure Python, raising
  `ValueError` with one sentence ("Conv2D needs an input of shape (C, H, W); it got (784,) from flatten_1"),
- `build(config, input_specs) -> torch.nn.Module`: the module (torch is imported inside `build`).

Adding a layer kind = adding one module under `deepnodes/dl/layers/` that defines and registers a class; the
package imports every module in it. Shapes exclude the batch dimension; `None` is a variable dimension.
Layout is PyTorch's: images (C, H, W), volumes (C, D, H, W), sequences (T, F).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from ..spec import Shape, TensorSpec, fmt_shape

CATALOGUE: dict[str, type["Layer"]] = {}


@dataclass(frozen=True)
class Opt:
    """One option of a layer kind.

    `type` is one of: "int", "float", "bool", "str", "ints" (an int or a list of ints, e.g. kernel_size),
    "shape" (a list of ints, -1 / None allowed), "intlist" (a list of ints), "reg" (a regularizer
    {"l1": x, "l2": y} or None), "dict" (a free JSON object), "axis" (an int or a list of ints).
    """

    name: str
    type: str
    default: Any
    description: str
    choices: tuple | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    nullable: bool = False


class Layer:
    """Base class of layer kinds. Subclasses set `kind`, `family`, `options` and implement the two methods."""

    kind: ClassVar[str] = ""
    family: ClassVar[str] = "Core"
    options: ClassVar[tuple[Opt, ...]] = ()
    #: names of the layer's inputs (the node's network input ports); the first `min_inputs` are required
    input_names: ClassVar[tuple[str, ...]] = ("input",)
    min_inputs: ClassVar[int] = 1
    #: a short layout sentence shown in the node description
    layout: ClassVar[str] = ""
    #: how a padding mask (N, T) travels through the layer (see `deepnodes/dl/masks.py`): "keep" (the output
    #: has the first input's steps and mask), "merge" (the inputs' masks combined), "produce" (the layer starts
    #: one: its module has `compute_mask(*inputs)`), "drop" (the output has no steps to mask)
    mask: ClassVar[str] = "drop"

    @classmethod
    def defaults(cls) -> dict:
        return {o.name: o.default for o in cls.options}

    @classmethod
    def check_config(cls, config: dict | None) -> dict:
        """The config with defaults filled in, validated against `options` (ValueError naming the option)."""
        config = dict(config or {})
        known = {o.name: o for o in cls.options}
        unknown = [k for k in config if k not in known]
        if unknown:
            raise ValueError(f"{cls.kind} has no option '{unknown[0]}'; its options are "
                             + ", ".join(f"'{k}'" for k in known))
        out = {}
        for o in cls.options:
            v = config.get(o.name, o.default)
            out[o.name] = _check_value(cls.kind, o, v)
        return out

    @classmethod
    def mask_mode(cls, config: dict) -> str:
        """How the mask travels for this config (a layer whose behaviour depends on an option overrides it)."""
        return cls.mask

    @staticmethod
    def compute_output_shape(input_specs: list[TensorSpec], config: dict) -> list[TensorSpec]:
        raise NotImplementedError

    @staticmethod
    def build(config: dict, input_specs: list[TensorSpec]):
        raise NotImplementedError

    @classmethod
    def infer(cls, name: str, input_specs: list[TensorSpec], config: dict | None) -> tuple[dict, tuple[TensorSpec, ...]]:
        """Validated config and output specs named after the layer ("dense_1", "lstm_1:1", ...)."""
        n = len(input_specs)
        if n < cls.min_inputs or n > len(cls.input_names):
            want = (str(cls.min_inputs) if cls.min_inputs == len(cls.input_names)
                    else f"{cls.min_inputs} to {len(cls.input_names)}")
            raise ValueError(f"{cls.kind} takes {want} inputs; it got {n}")
        cfg = cls.check_config(config)
        outs = cls.compute_output_shape(list(input_specs), cfg)
        named = tuple(TensorSpec(name if i == 0 else f"{name}:{i}", tuple(o.shape), o.dtype) for i, o in enumerate(outs))
        return cfg, named

    @classmethod
    def doc(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")


def register(cls: type[Layer]) -> type[Layer]:
    """Class decorator: add a layer kind to the catalogue."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if cls.kind in CATALOGUE and CATALOGUE[cls.kind].__qualname__ != cls.__qualname__:
        raise ValueError(f"layer kind '{cls.kind}' is registered twice")
    CATALOGUE[cls.kind] = cls
    return cls


def get_layer(kind: str) -> type[Layer]:
    from . import load_all

    load_all()
    try:
        return CATALOGUE[kind]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(kind, list(CATALOGUE), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown layer kind '{kind}'{hint}") from None


# ---------------------------------------------------------------- option validation

def _check_value(kind: str, o: Opt, v: Any) -> Any:
    where = f"option '{o.name}' of {kind}"
    if v is None:
        if o.nullable or o.default is None:
            return None
        raise ValueError(f"{where} must be set")
    t = o.type
    if t == "int":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
            raise ValueError(f"{where} must be a whole number; it is {v!r}")
        v = int(v)
    elif t == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{where} must be a number; it is {v!r}")
        v = float(v)
    elif t == "bool":
        if not isinstance(v, bool):
            raise ValueError(f"{where} must be true or false; it is {v!r}")
    elif t == "str":
        if not isinstance(v, str):
            raise ValueError(f"{where} must be text; it is {v!r}")
    elif t in ("ints", "axis"):
        if isinstance(v, (list, tuple)):
            if not v or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                raise ValueError(f"{where} must be a whole number or a list of whole numbers; it is {v!r}")
            v = [int(x) for x in v]
        elif isinstance(v, int) and not isinstance(v, bool):
            v = int(v)
        else:
            raise ValueError(f"{where} must be a whole number or a list of whole numbers; it is {v!r}")
        if t == "ints":
            vals = v if isinstance(v, list) else [v]
            if any(x < (o.ge if o.ge is not None else 1) for x in vals):
                lo = int(o.ge if o.ge is not None else 1)
                raise ValueError(f"{where} must be at least {lo}; it is {v!r}")
        return v
    elif t in ("shape", "intlist"):
        if not isinstance(v, (list, tuple)) or not all(x is None or (isinstance(x, int) and not isinstance(x, bool))
                                                      for x in v):
            raise ValueError(f"{where} must be a list of whole numbers; it is {v!r}")
        v = [None if x is None else int(x) for x in v]
        if t == "shape" and any(x is not None and x < -1 or x == 0 for x in v):
            raise ValueError(f"{where} must hold positive sizes (-1 or null for a variable one); it is {v!r}")
        return v
    elif t == "pads":
        ok = isinstance(v, int) and not isinstance(v, bool) and v >= 0
        if isinstance(v, (list, tuple)):
            ok = all((isinstance(x, int) and not isinstance(x, bool) and x >= 0) or
                     (isinstance(x, (list, tuple)) and len(x) == 2 and all(isinstance(y, int) and y >= 0 for y in x))
                     for x in v) and len(v) > 0
            v = [list(x) if isinstance(x, (list, tuple)) else x for x in v]
        if not ok:
            raise ValueError(f"{where} must be a whole number >= 0, a list of them, or a list of [before, after] "
                             f"pairs; it is {v!r}")
        return v
    elif t == "reg":
        if not isinstance(v, dict) or any(k not in ("l1", "l2") for k in v) or \
                any(isinstance(x, bool) or not isinstance(x, (int, float)) or x < 0 for x in v.values()):
            raise ValueError(f"{where} must be null or a regularizer like {{\"l1\": 0.0, \"l2\": 0.01}}; it is {v!r}")
        return {k: float(x) for k, x in v.items()}
    elif t == "dict":
        if not isinstance(v, dict):
            raise ValueError(f"{where} must be an object; it is {v!r}")
        return dict(v)
    if o.choices is not None and v not in o.choices:
        raise ValueError(f"{where} must be one of " + ", ".join(repr(c) for c in o.choices) + f"; it is {v!r}")
    for bound, ok, word in ((o.ge, lambda a, b: a >= b, "at least"), (o.gt, lambda a, b: a > b, "greater than"),
                            (o.le, lambda a, b: a <= b, "at most"), (o.lt, lambda a, b: a < b, "less than")):
        if bound is not None and not ok(v, bound):
            raise ValueError(f"{where} must be {word} {bound:g}; it is {v!r}")
    return v


# ---------------------------------------------------------------- shape helpers used by the layer modules

def shape_error(kind: str, want: str, spec: TensorSpec) -> ValueError:
    return ValueError(f"{kind} needs an input of shape {want}; it got {fmt_shape(spec.shape)} from {spec.name}")


def need_rank(kind: str, spec: TensorSpec, ranks: int | tuple[int, ...], want: str) -> Shape:
    ranks = (ranks,) if isinstance(ranks, int) else ranks
    if len(spec.shape) not in ranks:
        raise shape_error(kind, want, spec)
    return tuple(spec.shape)


def need_float(kind: str, spec: TensorSpec) -> None:
    if not spec.dtype.startswith(("float", "bfloat")):
        raise ValueError(f"{kind} needs a floating-point input; it got {spec.dtype} from {spec.name} "
                         "(an Embedding turns integer token ids into vectors)")


def tup(v: int | list[int], n: int, kind: str, option: str) -> tuple[int, ...]:
    """An int or a list of n ints -> a tuple of n ints."""
    if isinstance(v, int):
        return (v,) * n
    if len(v) != n:
        raise ValueError(f"option '{option}' of {kind} needs {n} values (one per spatial dimension); it has {len(v)}")
    return tuple(v)


def pairs(v: Any, n: int, kind: str, option: str) -> tuple[tuple[int, int], ...]:
    """Keras padding/cropping forms: int, [a, b] (1D) or one int / pair per dimension -> ((lo, hi), ...)."""
    if isinstance(v, int):
        return ((v, v),) * n
    if n == 1 and len(v) == 2 and all(isinstance(x, int) for x in v):
        return ((v[0], v[1]),)
    if len(v) == n:
        out = []
        for x in v:
            if isinstance(x, int):
                out.append((x, x))
            elif isinstance(x, (list, tuple)) and len(x) == 2:
                out.append((int(x[0]), int(x[1])))
            else:
                raise ValueError(f"option '{option}' of {kind} has a bad entry {x!r}")
        return tuple(out)
    raise ValueError(f"option '{option}' of {kind} needs one value or {n} values (one per spatial dimension); "
                     f"it has {len(v)}")


def conv_len(n: int | None, k: int, s: int, d: int, padding: str) -> int | None:
    """Output length of a convolution or pooling window along one axis (Keras 'valid' / 'same')."""
    if n is None:
        return None
    if padding == "same":
        return math.ceil(n / s)
    out = (n - d * (k - 1) - 1) // s + 1
    return out


def same_pad(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """Keras/TensorFlow 'same' padding for one axis: (before, after), the extra one after."""
    total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def prod(shape: Shape) -> int | None:
    p = 1
    for d in shape:
        if d is None:
            return None
        p *= d
    return p


def norm_axis(axis: int, rank: int, kind: str, option: str = "axis") -> int:
    """A Keras axis (batch is axis 0, negatives count from the end) -> index into the shape without batch."""
    full = rank + 1
    a = axis + full if axis < 0 else axis
    if a < 1 or a >= full:
        raise ValueError(f"option '{option}' of {kind} is {axis}, outside the input's axes 1..{rank} "
                         "(axis 0 is the batch)")
    return a - 1


ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu", "softplus", "softsign",
               "gelu", "swish", "silu", "hard_sigmoid", "exponential", "leaky_relu", "relu6", "mish")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
                "zeros", "ones", "random_normal", "random_uniform", "truncated_normal", "orthogonal",
                "torch_default")


def act_opt(default: str = "linear") -> Opt:
    return Opt("activation", "str", default, "activation applied to the output ('linear' = none)", choices=ACTIVATIONS)


def init_opts(kernel: str = "kernel", kernel_default: str = "glorot_uniform") -> tuple[Opt, ...]:
    return (
        Opt("use_bias", "bool", True, "whether the layer adds a bias vector"),
        Opt(f"{kernel}_initializer", "str", kernel_default, f"initializer of the {kernel} weights", choices=INITIALIZERS),
        Opt("bias_initializer", "str", "zeros", "initializer of the bias", choices=INITIALIZERS),
        Opt(f"{kernel}_regularizer", "reg", None, f"l1/l2 penalty on the {kernel} weights added to the training loss, "
            "e.g. {\"l2\": 0.01}", nullable=True),
        Opt("bias_regularizer", "reg", None, "l1/l2 penalty on the bias added to the training loss", nullable=True),
    )
