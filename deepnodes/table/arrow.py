"""pyarrow helpers: column kinds, tensor columns and zero-copy conversion to numpy / torch / pandas.

Traps measured here (see docs/architecture.md): `combine_chunks()` copies even a single chunk and
`.values` ignores a slice, so tensor data is read through `storage.flatten()`, which honours offsets.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa

from .spec import CATEGORIES_KEY, KIND_KEY, ColumnError, ColumnSpec, TableSpec

ROW_ID = "row_id"


# --------------------------------------------------------------------------- kinds and specs
def kind_of(field: pa.Field) -> str:
    """The DeepNodes kind of an Arrow field (see `deepnodes.table.spec.KINDS`)."""
    meta = field.metadata or {}
    if KIND_KEY in meta:
        return meta[KIND_KEY].decode()
    t = field.type
    if isinstance(t, pa.FixedShapeTensorType):
        return "tensor"
    if pa.types.is_dictionary(t):
        return "category"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_integer(t.value_type):
        return "token_sequence"
    return "other"


def column_spec(field: pa.Field) -> ColumnSpec:
    kind = kind_of(field)
    t = field.type
    shape = None
    dtype = str(t)
    if isinstance(t, pa.FixedShapeTensorType):
        shape = tuple(int(d) for d in t.shape)
        dtype = str(t.value_type)
    elif pa.types.is_dictionary(t):
        dtype = str(t.value_type)
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        dtype = str(t.value_type)
        shape = (None,)
    cats = None
    meta = field.metadata or {}
    if CATEGORIES_KEY in meta:
        cats = tuple(json.loads(meta[CATEGORIES_KEY]))
    return ColumnSpec(field.name, kind, dtype, shape, cats)


def spec_of(table_or_schema: pa.Table | pa.Schema) -> TableSpec:
    schema = table_or_schema.schema if isinstance(table_or_schema, pa.Table) else table_or_schema
    return TableSpec(tuple(column_spec(f) for f in schema))


def mark(field: pa.Field, kind: str, categories: Sequence[str] | None = None) -> pa.Field:
    """`field` with its DeepNodes kind (and categories) recorded in its metadata."""
    meta = dict(field.metadata or {})
    meta[KIND_KEY] = kind.encode()
    if categories is not None:
        meta[CATEGORIES_KEY] = json.dumps(list(categories)).encode()
    return field.with_metadata(meta)


def set_column(table: pa.Table, name: str, array: pa.Array | pa.ChunkedArray, kind: str | None = None,
               categories: Sequence[str] | None = None) -> pa.Table:
    """`table` with column `name` replaced (in place) or appended."""
    field = pa.field(name, array.type)
    if kind is not None:
        field = mark(field, kind, categories)
    i = table.schema.get_field_index(name)
    if i >= 0:
        return table.set_column(i, field, array)
    return table.append_column(field, array)


def get_column(table: pa.Table, name: str, option: str | None = None) -> pa.ChunkedArray:
    """Column `name`, or a `ColumnError` naming the option and the columns the table has."""
    if name not in table.column_names:
        spec_of(table).column(name, option=option)  # raises the worded error
    return table.column(name)


# --------------------------------------------------------------------------- tensors
def tensor_array(values: np.ndarray) -> pa.ExtensionArray:
    """An Arrow `fixed_shape_tensor` array from an (N, *shape) numpy array (no copy when contiguous)."""
    values = np.ascontiguousarray(values)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if len(values) == 0:  # pyarrow refuses an empty ndarray; an empty table still has a typed tensor column
        shape = values.shape[1:]
        value_type = pa.from_numpy_dtype(values.dtype)
        storage = pa.FixedSizeListArray.from_arrays(pa.array([], value_type), int(np.prod(shape)))
        return pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(value_type, shape), storage)
    # built from its storage (a zero-copy view of the values): `FixedShapeTensorArray.from_numpy_ndarray` gives
    # the same array but costs ~0.1 ms more per call, which a service pays on every request
    shape = values.shape[1:]
    storage = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), int(np.prod(shape)))
    return pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(storage.type.value_type, shape), storage)


def _chunk_numpy(chunk: pa.Array) -> np.ndarray:
    if isinstance(chunk, pa.ExtensionArray):
        t = chunk.type
        flat = chunk.storage.flatten()  # honours the slice offset, unlike .values
        arr = flat.to_numpy(zero_copy_only=flat.null_count == 0)
        return arr.reshape((len(chunk), *t.shape))
    if pa.types.is_fixed_size_list(chunk.type):
        flat = chunk.flatten()
        return flat.to_numpy(zero_copy_only=False).reshape(len(chunk), chunk.type.list_size)
    return chunk.to_numpy(zero_copy_only=False)


def to_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A column as a numpy array; tensor columns become (N, *shape) without a copy when in one chunk."""
    if isinstance(column, pa.ChunkedArray):
        chunks = [c for c in column.chunks if len(c)] or column.chunks[:1]
        if not chunks:
            t = column.type
            shape = tuple(t.shape) if isinstance(t, pa.FixedShapeTensorType) else ()
            dt = t.value_type if isinstance(t, pa.FixedShapeTensorType) else t
            return np.empty((0, *shape), dtype=dt.to_pandas_dtype())
        if len(chunks) == 1:
            return _chunk_numpy(chunks[0])
        return np.concatenate([_chunk_numpy(c) for c in chunks])
    return _chunk_numpy(column)


def to_torch(column: pa.ChunkedArray | pa.Array, dtype: Any = None):
    """A column as a torch tensor: a view on the Arrow buffer, converted to `dtype` in one vectorised step."""
    import torch

    arr = to_numpy(column)
    if not arr.flags.writeable:
        # torch warns on read-only buffers; the view is never written to by us
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            t = torch.from_numpy(arr)
    else:
        t = torch.from_numpy(arr)
    return t if dtype is None else t.to(dtype)


def numbers_to_numpy(table: pa.Table, columns: Sequence[str], dtype=np.float32) -> np.ndarray:
    """Several number columns as one (N, len(columns)) array."""
    out = np.empty((table.num_rows, len(columns)), dtype=dtype)
    for j, c in enumerate(columns):
        col = get_column(table, c)
        out[:, j] = to_numpy(col)
    return out


# --------------------------------------------------------------------------- categories, tokens, images
def category_array(values: Iterable[str]) -> pa.DictionaryArray:
    return pa.array(list(values), type=pa.string()).dictionary_encode()


def token_array(seqs: Iterable[Sequence[int]]) -> pa.Array:
    return pa.array([list(s) for s in seqs], type=pa.list_(pa.int32()))


def decode_image(data: bytes) -> np.ndarray:
    """PNG/JPEG bytes to an (H, W) or (H, W, C) uint8 array (images over `images.MAX_IMAGE_PIXELS` refused)."""
    from .images import open_image

    with open_image(data) as im:
        return np.asarray(im)


def encode_png(img: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- rows and display
def with_row_id(table: pa.Table) -> pa.Table:
    """`table` with a leading int64 `row_id` column (kept as it is when present)."""
    if ROW_ID in table.column_names:
        return table
    return table.add_column(0, ROW_ID, pa.array(np.arange(table.num_rows, dtype=np.int64)))


def to_pandas(table: pa.Table, max_rows: int | None = None):
    """A pandas DataFrame for display and scripts; tensor columns become one numpy array per cell."""
    if max_rows is not None:
        table = table.slice(0, max_rows)
    cols = {}
    for f, col in zip(table.schema, table.columns):
        if isinstance(f.type, pa.FixedShapeTensorType):
            arr = to_numpy(col)
            cols[f.name] = list(arr)
        else:
            cols[f.name] = col.to_pandas()
    import pandas as pd

    return pd.DataFrame(cols)


def require_rows(table: pa.Table, node_what: str = "input table") -> None:
    if table.num_rows == 0:
        raise ColumnError(f"the {node_what} is empty; this node needs at least one row")


def category_from_codes(codes: np.ndarray, categories: Sequence[str]) -> pa.DictionaryArray:
    """A dictionary (category) array from integer codes into `categories` (no per-row Python work)."""
    codes = np.asarray(codes)
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32, copy=False)),
                                          pa.array(list(categories), type=pa.string()))


def category_field(name: str, categories: Sequence[str]) -> pa.Field:
    """The field of a category column that records its categories (so specs know them at configure time)."""
    return mark(pa.field(name, pa.dictionary(pa.int32(), pa.string())), "category", categories)
