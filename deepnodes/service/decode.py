"""Request rows (JSON values, uploaded files) → an Arrow table of the declared schema, and result tables → rows.

Every refusal is a `RequestError` carrying an HTTP status and one sentence naming the row and column. The
Service Input node decodes its example row with the same function, so the example is checked like a request.
"""
from __future__ import annotations

import base64
import binascii
import math
from typing import Any, Sequence

from .schema import ServiceColumn


class RequestError(ValueError):
    """A request the service refuses: `status` (400, 413, 422...) and one sentence."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def _where(i: int, name: str) -> str:
    return f"row {i}, column '{name}'"


def _number(v: Any, i: int, c: ServiceColumn) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RequestError(f"{_where(i, c.name)}: expected a number, got {_kind_of(v)}")
    f = float(v)
    if not math.isfinite(f):
        raise RequestError(f"{_where(i, c.name)}: the number must be finite")
    return f


def _kind_of(v: Any) -> str:
    return {bool: "true/false", str: "a string", list: "a list", dict: "an object", type(None): "null"}.get(
        type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__)


def image_bytes(v: Any, i: int, c: ServiceColumn) -> bytes:
    """Base64 text (a `data:` URL too) or raw bytes (an upload) → checked PNG/JPEG bytes of the declared size."""
    data, im = decoded_image(v, i, c)
    im.close()
    return data


def decoded_image(v: Any, i: int, c: ServiceColumn):
    """`image_bytes`'s check, which decodes the image: (the bytes, the loaded PIL image), so a runner that
    prepares images itself (the bundle runner) does not decode them a second time."""
    if isinstance(v, (bytes, bytearray)):
        data = bytes(v)
    elif isinstance(v, str):
        text = v.split(",", 1)[1] if v.startswith("data:") and "," in v else v
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(f"{_where(i, c.name)}: the image is not valid base64 text") from None
    else:
        raise RequestError(f"{_where(i, c.name)}: expected a base64-encoded PNG or JPEG image, got {_kind_of(v)}")
    from deepnodes.table.images import open_image

    try:
        im = open_image(data, c.name, i)
        if im.format not in ("PNG", "JPEG"):
            im.close()
            raise RequestError(f"{_where(i, c.name)}: the image is {im.format or 'of an unknown format'}; "
                               "send PNG or JPEG")
        w, h = im.size
        im.load()
    except RequestError:
        raise
    except Exception:  # noqa: BLE001 - PIL raises many types for broken files; open_image words its own
        raise RequestError(f"{_where(i, c.name)}: the bytes are not a PNG or JPEG image that can be decoded") from None
    if c.shape and [h, w] != list(c.shape):
        im.close()
        raise RequestError(f"{_where(i, c.name)}: the image is {h}×{w} pixels (height×width); "
                           f"this service takes {c.shape[0]}×{c.shape[1]}")
    return data, im


def _tensor(v: Any, i: int, c: ServiceColumn):
    import numpy as np

    want = tuple(c.shape or ())
    try:
        a = np.asarray(v, dtype=np.float64)
    except (ValueError, TypeError):
        raise RequestError(f"{_where(i, c.name)}: expected nested lists of numbers of shape "
                           f"{list(want)}, got ragged or non-numeric values") from None
    if a.dtype == object or isinstance(v, (str, bool)) or _has_bool(v):
        raise RequestError(f"{_where(i, c.name)}: expected nested lists of numbers of shape {list(want)}")
    if a.shape != want:
        raise RequestError(f"{_where(i, c.name)}: the value has shape {list(a.shape)}; this service takes {list(want)}")
    if not np.isfinite(a).all():
        raise RequestError(f"{_where(i, c.name)}: every number must be finite")
    return a.astype(np.float32)


def _has_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return True
    return isinstance(v, list) and any(_has_bool(x) for x in v)


def checked_values(columns: Sequence[ServiceColumn], rows: Any, max_rows: int, images: str = "bytes") -> dict:
    """Every check of a request's rows: column name -> its values (numbers as floats, strings, tensors as float32
    arrays; images as checked bytes, or as loaded PIL images with `images="decoded"`), or a `RequestError`."""
    if not isinstance(rows, list):
        raise RequestError(f"'rows' must be a list of objects, got {_kind_of(rows)}", 422)
    if not rows:
        raise RequestError("'rows' is empty; send at least one row", 422)
    if len(rows) > max_rows:
        raise RequestError(f"the request has {len(rows)} rows; this service takes at most {max_rows}", 413)
    names = {c.name for c in columns}
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise RequestError(f"row {i} must be an object with the columns as keys, got {_kind_of(r)}")
        for c in columns:
            if c.name not in r:
                raise RequestError(f"row {i} has no column '{c.name}' (the service needs "
                                   f"{', '.join(repr(x.name) for x in columns)})")
        if len(r) != len(names):
            extra = [k for k in r if k not in names]
            raise RequestError(f"row {i} has the column '{str(extra[0])[:100]}', which this service does not take "
                               f"(it takes {', '.join(repr(x.name) for x in columns)})")
    image = decoded_image if images == "decoded" else image_bytes
    out: dict[str, list] = {}
    for c in columns:
        vals = [r[c.name] for r in rows]
        if c.kind == "number":
            out[c.name] = [_number(v, i, c) for i, v in enumerate(vals)]
        elif c.kind in ("string", "category"):
            for i, v in enumerate(vals):
                if not isinstance(v, str):
                    raise RequestError(f"{_where(i, c.name)}: expected a string, got {_kind_of(v)}")
                if c.categories and v not in c.categories:
                    raise RequestError(f"{_where(i, c.name)}: '{v[:100]}' is not one of the categories "
                                       f"{', '.join(repr(x) for x in c.categories[:20])}")
            out[c.name] = vals
        elif c.kind == "image":
            out[c.name] = [image(v, i, c) for i, v in enumerate(vals)]
            if images == "decoded":
                out[c.name] = [im for _, im in out[c.name]]
        else:
            out[c.name] = [_tensor(v, i, c) for i, v in enumerate(vals)]
    return out


def checked_rows(columns: Sequence[ServiceColumn], rows: Any, max_rows: int) -> list[dict]:
    """The request's rows after every check, as the bundle runner takes them (images decoded once, here)."""
    vals = checked_values(columns, rows, max_rows, images="decoded")
    return [{c.name: vals[c.name][i] for c in columns} for i in range(len(rows))]


def decode_rows(columns: Sequence[ServiceColumn], rows: Any, max_rows: int):
    """Rows (a list of JSON objects) → a `pyarrow.Table` with the declared columns, in order."""
    import numpy as np
    import pyarrow as pa

    from deepnodes.table.arrow import category_field, mark, tensor_array

    vals = checked_values(columns, rows, max_rows)
    arrays, fields = [], []
    for c in columns:
        v = vals[c.name]
        if c.kind == "number":
            arrays.append(pa.array(v, pa.float64()))
            fields.append(pa.field(c.name, pa.float64()))
        elif c.kind == "string":
            arrays.append(pa.array(v, pa.string()))
            fields.append(pa.field(c.name, pa.string()))
        elif c.kind == "category" and c.categories:
            from deepnodes.table.arrow import category_from_codes

            index = {k: j for j, k in enumerate(c.categories)}
            arrays.append(category_from_codes(np.array([index[x] for x in v]), c.categories))
            fields.append(category_field(c.name, c.categories))
        elif c.kind == "category":
            arrays.append(pa.array(v, pa.string()).dictionary_encode())
            fields.append(mark(pa.field(c.name, arrays[-1].type), "category"))
        elif c.kind == "image":
            arrays.append(pa.array(v, pa.binary()))
            fields.append(mark(pa.field(c.name, pa.binary()), "image"))
        else:
            arrays.append(tensor_array(np.stack(v)))
            fields.append(pa.field(c.name, arrays[-1].type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def table_rows(table, columns: Sequence[str] | None = None) -> list[dict]:
    """A result table → JSON rows (tensors as nested lists, categories as strings, NaN as null, images base64)."""
    import numpy as np
    import pyarrow as pa

    from deepnodes.table.arrow import kind_of, to_numpy

    names = list(columns) if columns else table.column_names
    cols: dict[str, list] = {}
    for name in names:
        field = table.schema.field(name)
        col = table.column(name)
        if isinstance(field.type, pa.FixedShapeTensorType):
            cols[name] = to_numpy(col).tolist()
        elif kind_of(field) == "image" or pa.types.is_binary(field.type):
            cols[name] = [None if b is None else base64.b64encode(b).decode() for b in col.to_pylist()]
        elif pa.types.is_floating(field.type):
            cols[name] = [None if v is None or not math.isfinite(v) else v for v in col.to_pylist()]
        else:
            vals = col.to_pylist()
            cols[name] = [v.tolist() if isinstance(v, np.ndarray) else v for v in vals]
    return [{k: cols[k][i] for k in names} for i in range(table.num_rows)]
