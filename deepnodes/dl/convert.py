"""Table columns -> tensors for a network's inputs and targets.

A *binding* says which column(s) feed one network input (or one output's target) and how they are
converted. Converters:

    tensor       one tensor column, rows of exactly the tensor's shape (zero-copy view on the Arrow buffer); or
                 an image column of encoded bytes, decoded per batch to the tensor's (C, H, W) (`decode_ahead.py`)
    numbers      several number / integer / boolean columns -> (N, k)
    one_hot      one integer or category column -> (N, C), C = the tensor's last dimension
    tokens       one token-sequence column (list<int>) -> (N, T) int64, padded with `pad_value`
    class_index  one integer or category column -> (N,) int64 (sparse categorical targets)
    auto         chosen from the column kind and the tensor spec

`check_binding` runs at configure time against `TableSpec` / `TensorSpec` (no data) and raises one-sentence
`ColumnError`s; `convert` builds the tensor from a `pyarrow.Table` at execute time. Tensors stay in the dtype
they have in the table (uint8 images stay uint8) and are cast per batch by the training loop, so a 60k-image
table costs no extra copy; `Converted.dtype` says what the network wants.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Sequence

from deepnodes.table.spec import ColumnError, ColumnSpec, TableSpec

from .spec import TensorSpec, fmt_shape

if TYPE_CHECKING:
    from .network import Network

CONVERTERS = ("auto", "tensor", "numbers", "one_hot", "tokens", "class_index")
NUMERIC_KINDS = ("number", "integer", "boolean")


@dataclass(frozen=True)
class Binding:
    """Which columns feed one network tensor and how. `role` is 'input' or 'target' (for messages)."""

    columns: tuple[str, ...]
    converter: str = "auto"
    pad_value: int = 0
    role: str = "input"
    option: str = "inputs"

    def __post_init__(self):
        if self.converter not in CONVERTERS:
            raise ValueError(f"option '{self.option}': unknown converter '{self.converter}'; "
                             f"choose one of {', '.join(CONVERTERS)}")


def _what(tensor: TensorSpec, role: str) -> str:
    return f"the network {'output' if role == 'target' else 'input'} '{tensor.name}'"


def _shape_ok(have: Sequence[int | None], want: Sequence[int | None]) -> bool:
    return len(have) == len(want) and all(w is None or h is None or h == w for h, w in zip(have, want))


def resolve_converter(binding: Binding, cols: list[ColumnSpec], tensor: TensorSpec) -> str:
    """The converter `auto` stands for, from the columns' kinds and the tensor's shape."""
    if binding.converter != "auto":
        return binding.converter
    if len(cols) > 1:
        return "numbers"
    c = cols[0]
    if c.kind in ("tensor", "image"):
        return "tensor"
    if c.kind == "token_sequence":
        return "tokens"
    if c.kind in ("category", "string"):
        return "class_index" if len(tensor.shape) == 0 or binding.role == "target" and len(tensor.shape) == 1 else "one_hot"
    if c.kind in ("integer", "boolean") and binding.role == "target":
        # an integer target: class index for a softmax over several units, the number itself for one unit
        if len(tensor.shape) == 1 and (tensor.shape[0] or 0) > 1:
            return "class_index"
        return "numbers"
    return "numbers"


def check_binding(spec: TableSpec, binding: Binding, tensor: TensorSpec) -> str:
    """Configure-time check of one binding; returns the resolved converter or raises a worded `ColumnError`."""
    if not binding.columns:
        raise ColumnError(f"option '{binding.option}' names no column for {_what(tensor, binding.role)}")
    cols = [spec.column(c, option=binding.option) for c in binding.columns]
    conv = resolve_converter(binding, cols, tensor)
    want = tensor.shape
    if conv != "numbers" and len(cols) != 1:
        raise ColumnError(f"the '{conv}' converter (option '{binding.option}') takes one column, got "
                          f"{len(cols)}: {', '.join(repr(c.name) for c in cols)}")
    c = cols[0]
    if conv == "tensor":
        if c.kind not in ("tensor", "image"):
            raise ColumnError(f"column '{c.name}' is a {c.kind} column, but the 'tensor' converter (option "
                              f"'{binding.option}') needs a tensor column; convert images with Image to Tensor first")
        if c.kind == "image" and len(want) not in (2, 3):
            raise ColumnError(f"column '{c.name}' holds images but {_what(tensor, binding.role)} expects "
                              f"{fmt_shape(want)}; an image feeds an input of shape (channels, height, width)")
        if c.shape is not None and not _shape_ok(c.shape, want):
            raise ColumnError(f"column '{c.name}' has rows of shape {fmt_shape(c.shape)} but "
                              f"{_what(tensor, binding.role)} expects {fmt_shape(want)}")
    elif conv == "numbers":
        bad = [x for x in cols if x.kind not in NUMERIC_KINDS]
        if bad:
            raise ColumnError(f"column '{bad[0].name}' is a {bad[0].kind} column; the 'numbers' converter (option "
                              f"'{binding.option}') needs number, integer or boolean columns")
        k = len(cols)
        ok = (len(want) == 1 and want[0] in (None, k)) or (k == 1 and len(want) == 0)
        if not ok:
            raise ColumnError(f"{k} number column{'s' if k > 1 else ''} ({', '.join(repr(x.name) for x in cols)}) "
                              f"give rows of shape ({k},) but {_what(tensor, binding.role)} expects {fmt_shape(want)}")
    elif conv in ("one_hot", "class_index"):
        if c.kind not in ("integer", "category", "string", "boolean"):
            raise ColumnError(f"column '{c.name}' is a {c.kind} column; the '{conv}' converter (option "
                              f"'{binding.option}') needs an integer or category column")
        if conv == "one_hot":
            if len(want) != 1 or want[0] is None:
                raise ColumnError(f"one-hot encoding column '{c.name}' gives rows of shape (classes,) but "
                                  f"{_what(tensor, binding.role)} expects {fmt_shape(want)}")
            n = want[0]
        else:
            n = want[-1] if want else None
        mismatch = len(c.categories) > n if c.categories is not None and n is not None else False
        # a target's output has one unit per class: fewer classes than units is as wrong as more
        if binding.role == "target" and c.categories is not None and n is not None and len(c.categories) < n:
            mismatch = True
        if mismatch:
            raise ColumnError(f"column '{c.name}' has {len(c.categories)} classes but "
                              f"{_what(tensor, binding.role)} has {n} units; use an output layer with "
                              f"{len(c.categories)} units")
    elif conv == "tokens":
        if c.kind != "token_sequence":
            raise ColumnError(f"column '{c.name}' is a {c.kind} column; the 'tokens' converter (option "
                              f"'{binding.option}') needs a token-sequence column (a list of integers)")
        if binding.role == "input" and len(want) != 1:
            raise ColumnError(f"column '{c.name}' holds token sequences of shape (T,) but "
                              f"{_what(tensor, binding.role)} expects {fmt_shape(want)}")
        if binding.role == "target" and len(want) not in (1, 2):
            raise ColumnError(f"column '{c.name}' holds token sequences but {_what(tensor, binding.role)} has "
                              f"shape {fmt_shape(want)}; a per-step target needs an output of shape (T, classes)")
    return conv


#: the option readers of networks from elsewhere offer (Network Reader, Torch Module Reader)
OutputActivation = Literal["recorded", "linear", "softmax", "sigmoid"]
OUTPUT_ACTIVATION_HELP = ("what ends the network's outputs: linear = logits, softmax / sigmoid = probabilities. "
                          "recorded = what the file says (DeepNodes and Keras files record it; a TorchScript or ONNX "
                          "file from elsewhere does not, and then the Learner asks for this option)")


def record_output_activation(network: Network, choice: str) -> None:
    """A reader's option: the user says what ends every output (recorded, so nothing downstream guesses)."""
    if choice != "recorded":
        network.metadata["output_activations"] = [choice] * len(network.spec.outputs)


# layers that keep their input's values (reshape, select or only act while training): the activation before
# them is the one that ends the output
_PASS_THROUGH = ("reshape", "flatten", "permute", "dropout", "spatialdropout1d", "spatialdropout2d",
                 "spatialdropout3d", "gaussiannoise", "gaussiandropout", "alphadropout", "masking", "repeatvector",
                 "cropping1d", "cropping2d")


def layer_activation(kind: str, config: dict) -> str | None:
    """The activation a layer ends with, from its kind and options; TimeDistributed: its inner layer's."""
    kind = kind.split(".")[-1].lower()
    if kind in ("softmax", "sigmoid"):
        return kind
    if kind == "timedistributed":
        return layer_activation(str(config.get("layer", "Dense")), dict(config.get("layer_config") or {}))
    act = config.get("activation")
    if isinstance(act, str):
        return act.lower()
    if kind in ("dense", "conv1d", "conv2d", "conv3d", "conv1dtranspose", "conv2dtranspose", "conv3dtranspose",
                "embedding"):
        return "linear"
    return None


def output_activation(network: Network, i: int) -> str | None:
    """The activation that ends output `i` ('softmax', 'sigmoid', 'linear', ...): recorded in the metadata
    (imported networks, a reader's option) or read from the layer graph; None when neither says (never guessed)."""
    spec = network.spec
    acts = network.metadata.get("output_activations")
    if acts and i < len(acts) and acts[i]:
        return acts[i]
    if not spec.output_layers or i >= len(spec.output_layers):
        if spec.layers and not spec.output_layers and i == 0:
            name = spec.layers[-1].name
        else:
            return None
    else:
        name = spec.output_layers[i].split(":")[0]
    for _ in range(len(spec.layers) + 1):
        try:
            entry = spec.layer(name)
        except KeyError:
            return None
        if entry.kind.split(".")[-1].lower() in _PASS_THROUGH and len(entry.inputs) == 1:
            name = entry.inputs[0].split(":")[0]
            continue
        return layer_activation(entry.kind, entry.config)
    return None


# --------------------------------------------------------------------------- execute time
@dataclass
class Converted:
    """A converted column: `data` (N, ...) tensor in its stored dtype, `dtype` the dtype the network wants
    (the training loop casts per batch), `classes` the class names when the column carried categories."""

    data: Any
    dtype: Any
    converter: str
    classes: list[str] | None = None
    num_classes: int | None = None
    #: token columns padded to the table's longest row: the padding id (batches may be cut, `dl/trim.py`)
    pad_value: int | None = None

    def __len__(self) -> int:
        return int(self.data.shape[0])


def _torch_dtype(name: str):
    import torch

    return getattr(torch, name, torch.float32)


def _check_finite(data, column: str, option: str) -> None:
    import torch

    if data.is_floating_point():
        if bool(torch.isfinite(data).all()):  # the common case in one step (a service request's ~50 µs)
            return
        bad = ~torch.isfinite(data.reshape(len(data), -1)).all(dim=1)
        n = int(bad.sum())
        if n:
            first = int(bad.nonzero()[0, 0])
            raise ColumnError(f"column '{column}' (option '{option}') has NaN or infinite values in {n} "
                              f"row{'s' if n > 1 else ''} (first: row {first}); remove or fill them "
                              f"(Missing Value node) before training or predicting")


def _check_nulls(table, names: Sequence[str], option: str) -> None:
    for name in names:
        col = table.column(name)
        if col.null_count:
            raise ColumnError(f"column '{name}' (option '{option}') has {col.null_count} missing "
                              f"value{'s' if col.null_count > 1 else ''}; remove or fill them "
                              f"(Missing Value node) first")


def class_codes(table, name: str, option: str, num_classes: int | None,
                class_names: Sequence[str] | None = None) -> tuple[Any, list[str] | None]:
    """An integer or category column as int64 class indices (and the class names when it has them)."""
    import numpy as np
    import pyarrow as pa
    import torch

    from deepnodes.table.arrow import column_spec, to_numpy

    col = table.column(name)
    field = table.schema.field(name)
    spec = column_spec(field)
    names: list[str] | None = None
    if pa.types.is_dictionary(col.type) or spec.kind in ("category", "string"):
        if spec.categories is not None:
            names = list(spec.categories)
        elif class_names is not None:
            names = list(class_names)
        else:
            if pa.types.is_dictionary(col.type):
                values = pa.chunked_array([c.dictionary for c in col.chunks]) if col.num_chunks else pa.array([], pa.string())
                names = sorted(set(values.to_pylist()))
            else:
                names = sorted(set(col.to_pylist()))
        strings = col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col
        lookup = pa.array(names, pa.string())
        import pyarrow.compute as pc

        idx = pc.index_in(strings, value_set=lookup)
        if idx.null_count:
            unknown = pc.filter(strings, pc.is_null(idx)).unique().to_pylist()[:3]
            raise ColumnError(f"column '{name}' (option '{option}') has class{'es' if len(unknown) > 1 else ''} "
                              f"{', '.join(repr(u) for u in unknown)} that the network was not trained on; "
                              f"its classes are {', '.join(repr(n) for n in names[:10])}")
        codes = torch.from_numpy(to_numpy(idx).astype(np.int64))
    else:
        codes = torch.from_numpy(np.asarray(to_numpy(col)).astype(np.int64))
        if class_names is not None:
            names = list(class_names)
    if num_classes is not None and len(codes):
        lo, hi = int(codes.min()), int(codes.max())
        if lo < 0 or hi >= num_classes:
            bad = hi if hi >= num_classes else lo
            raise ColumnError(f"column '{name}' (option '{option}') has class {bad}, but the network output has "
                              f"{num_classes} units (classes 0 to {num_classes - 1}); use an output layer with "
                              f"{hi + 1} units or check the target column")
    if names is not None and num_classes is not None and len(names) > num_classes:
        raise ColumnError(f"column '{name}' (option '{option}') has {len(names)} classes but the network output "
                          f"has {num_classes} units; use an output layer with {len(names)} units")
    return codes, names


def pad_tokens(table, name: str, length: int | None, pad_value: int = 0):
    """A list<int> column as an (N, T) int64 tensor: cut to `length` or padded with `pad_value`."""
    import numpy as np
    import pyarrow.compute as pc
    import torch

    col = table.column(name)
    chunks = [c for c in col.chunks if len(c)]
    n = len(col)
    lens = np.concatenate([pc.list_value_length(c).fill_null(0).to_numpy(zero_copy_only=False) for c in chunks]) \
        if chunks else np.zeros(0, np.int64)
    t = int(length) if length else (int(lens.max()) if n else 0)
    out = np.full((n, t), pad_value, dtype=np.int64)
    if n == 0 or t == 0:
        return torch.from_numpy(out)
    if chunks and all(l == t for l in (lens.min(), lens.max())):
        flat = np.concatenate([c.flatten().to_numpy(zero_copy_only=False) for c in chunks])
        out[:] = flat.reshape(n, t)
        return torch.from_numpy(out)
    # vectorised scatter: row r gets its first min(len_r, t) values
    flat = np.concatenate([c.flatten().to_numpy(zero_copy_only=False) for c in chunks]) if chunks else np.zeros(0)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    keep = np.minimum(lens, t)
    rows = np.repeat(np.arange(n), keep)
    pos = np.arange(keep.sum()) - np.repeat(np.cumsum(keep) - keep, keep)
    out[rows, pos] = flat[np.repeat(starts, keep) + pos]
    return torch.from_numpy(out)


def convert(table, binding: Binding, tensor: TensorSpec, *, class_names: Sequence[str] | None = None,
            check: bool = True) -> Converted:
    """One binding's tensor from a `pyarrow.Table` (checked against the spec first when `check`)."""
    import torch

    from deepnodes.table.arrow import numbers_to_numpy, spec_of, to_torch

    spec = spec_of(table)
    conv = check_binding(spec, binding, tensor)  # cheap: resolves "auto" and checks the spec
    name = binding.columns[0]
    want = _torch_dtype(tensor.dtype)
    if conv == "tensor":
        _check_nulls(table, [name], binding.option)
        if spec.column(name).kind == "image":  # encoded bytes: decoded per batch (dl/decode_ahead.py)
            from .decode_ahead import encoded_images

            return Converted(encoded_images(table, name, tensor, binding.option), want, conv)
        data = to_torch(table.column(name))  # zero-copy view when the column is one chunk
        if tuple(data.shape[1:]) != tuple(d if d is not None else data.shape[1 + i] for i, d in enumerate(tensor.shape)):
            raise ColumnError(f"column '{name}' has rows of shape {fmt_shape(tuple(data.shape[1:]))} but "
                              f"{_what(tensor, binding.role)} expects {fmt_shape(tensor.shape)}")
        _check_finite(data, name, binding.option)
        return Converted(data, want, conv)
    if conv == "numbers":
        _check_nulls(table, binding.columns, binding.option)
        import numpy as np

        arr = numbers_to_numpy(table, binding.columns, dtype=np.float32 if want.is_floating_point else np.int64)
        data = torch.from_numpy(arr)
        if len(tensor.shape) == 0:
            data = data[:, 0]
        _check_finite(data, ", ".join(binding.columns), binding.option)
        return Converted(data, want, conv)
    if conv in ("one_hot", "class_index"):
        _check_nulls(table, [name], binding.option)
        n = tensor.shape[-1] if tensor.shape else None
        codes, names = class_codes(table, name, binding.option, n, class_names)
        if conv == "one_hot":
            data = torch.nn.functional.one_hot(codes, n).to(torch.float32 if want.is_floating_point else want)
            return Converted(data, data.dtype, conv, names, n)
        return Converted(codes, torch.int64, conv, names, n)
    if conv == "tokens":
        length = tensor.shape[0] if tensor.shape else None
        data = pad_tokens(table, name, length, binding.pad_value)
        if binding.role == "target" and len(tensor.shape) == 2 and tensor.shape[1] and data.numel():
            v, hi = tensor.shape[1], int(data.max())
            if hi >= v or int(data.min()) < 0:
                raise ColumnError(f"column '{name}' (option '{binding.option}') has token id {hi}, but "
                                  f"{_what(tensor, binding.role)} has {v} units (ids 0 to {v - 1}); use an output "
                                  f"layer with as many units as the dictionary has tokens")
        return Converted(data, torch.int64, conv, pad_value=None if length else binding.pad_value)
    raise ColumnError(f"unknown converter '{conv}' (option '{binding.option}')")


# --------------------------------------------------------------------------- bindings from node options
def _entries(configured) -> list[dict]:
    out = []
    for c in configured or []:
        out.append(c.model_dump() if hasattr(c, "model_dump") else dict(c))
    return out


def bind(spec: TableSpec, tensors: Sequence[TensorSpec], configured, *, role: str = "input",
         option: str = "inputs", key: str = "network_input") -> list[tuple[Binding, TensorSpec, dict] | None]:
    """Match node options (a list of {columns, converter, pad_value, network_input/-output, ...}) to the
    network's inputs (role 'input': every input needs one) or outputs (role 'target': outputs without an
    entry get no loss). An empty list binds by name: a column called like the tensor, or, for a single
    input, the table's only tensor column. Raises worded `ColumnError`s."""
    entries = _entries(configured)
    names = [t.name for t in tensors]
    what = "network input" if role == "input" else "network output"
    out: list[tuple[Binding, TensorSpec, dict] | None] = [None] * len(tensors)
    if not entries:
        for i, t in enumerate(tensors):
            if t.name in spec:
                out[i] = (Binding((t.name,), "auto", 0, role, option), t, {})
            elif role == "input" and len(tensors) == 1:
                tens = [c.name for c in spec.columns if c.kind in ("tensor", "image")]
                if len(tens) == 1:
                    out[i] = (Binding((tens[0],), "auto", 0, role, option), t, {})
            if out[i] is None and role == "input":
                raise ColumnError(f"option '{option}': say which column feeds {what} '{t.name}' "
                                  f"{fmt_shape(t.shape)}; the table has no column of that name")
        if role == "target" and not any(out):
            raise ColumnError(f"option '{option}': say which column holds the target of {what} "
                              f"{', '.join(repr(n) for n in names)}")
        return out
    if len(entries) > len(tensors):
        raise ColumnError(f"option '{option}' has {len(entries)} entries but the network has {len(tensors)} "
                          f"{what}{'s' if len(tensors) > 1 else ''} ({', '.join(repr(n) for n in names)})")
    # entries naming their tensor first, then the others fill the remaining tensors in order
    for e in sorted(entries, key=lambda e: not e.get(key)):
        target = e.get(key) or ""
        if target:
            if target not in names:
                raise ColumnError(f"option '{option}': the network has no {what.split()[1]} '{target}'; its "
                                  f"{what.split()[1]}s are {', '.join(repr(n) for n in names)}")
            i = names.index(target)
            if out[i] is not None:
                raise ColumnError(f"option '{option}' gives {what} '{names[i]}' twice")
        else:
            i = next(k for k, o in enumerate(out) if o is None)
        cols = tuple(e.get("columns") or ())
        out[i] = (Binding(cols, e.get("converter", "auto"), int(e.get("pad_value", 0)), role, option), tensors[i], e)
    if role == "input":
        missing = [names[i] for i, b in enumerate(out) if b is None]
        if missing:
            raise ColumnError(f"option '{option}' says nothing about {what} "
                              f"{', '.join(repr(m) for m in missing)}; give one entry per {what}")
    return out
