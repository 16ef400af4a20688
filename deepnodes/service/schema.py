"""A workflow service's declared schema: the columns a request carries and the JSON Schema that describes them.

Pure Python (pydantic only): the Service Input node's config holds a list of `ServiceColumn`, from which come
the table spec (configure time), the request's JSON Schema (`GET /schema`, the OpenAPI document) and the
decoding of a request (`decode.py`). One declaration, so what the docs say is what the service checks.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from deepnodes.core import limits

ServiceKind = Literal["number", "string", "category", "image", "tensor"]


class ServiceColumn(BaseModel):
    """One column of a service request."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="column name (the JSON key of each row)")
    kind: ServiceKind = Field("number", description="number, string, category, image (base64 PNG/JPEG or an "
                              "uploaded file) or tensor (nested lists of numbers)")
    shape: list[limits.Dim] | None = Field(None, max_length=8, description="tensor: the shape of one row's value "
                                           "(required); image: [height, width] the image must have (empty = any)")
    categories: list[str] | None = Field(None, max_length=100_000, description="category: the values allowed "
                                         "(empty = any string)")
    description: str = Field("", max_length=2000, description="shown in the service's documentation")

    @model_validator(mode="after")
    def _check(self) -> "ServiceColumn":
        if self.kind == "tensor" and not self.shape:
            raise ValueError(f"column '{self.name}' is a tensor and needs a shape, e.g. [3]")
        if self.shape is not None and any(d < 1 for d in self.shape):
            raise ValueError(f"column '{self.name}': every dimension of the shape must be at least 1")
        if self.kind == "image" and self.shape is not None and len(self.shape) != 2:
            raise ValueError(f"column '{self.name}': an image's shape is [height, width]")
        if self.kind not in ("tensor", "image") and self.shape is not None:
            raise ValueError(f"column '{self.name}': only tensor and image columns have a shape")
        if self.kind != "category" and self.categories is not None:
            raise ValueError(f"column '{self.name}': only category columns have categories")
        return self


def check_names(columns: list[ServiceColumn]) -> None:
    seen: set[str] = set()
    for c in columns:
        if c.name in seen:
            raise ValueError(f"option 'columns': the column '{c.name}' is declared twice")
        seen.add(c.name)


def table_spec(columns: list[ServiceColumn]):
    """The `TableSpec` of a decoded request (what the Service Input node gives at configure time)."""
    from deepnodes.table.spec import ColumnSpec, TableSpec

    out = []
    for c in columns:
        if c.kind == "number":
            out.append(ColumnSpec(c.name, "number", "double"))
        elif c.kind == "string":
            out.append(ColumnSpec(c.name, "string", "string"))
        elif c.kind == "category":
            out.append(ColumnSpec(c.name, "category", "string", None, tuple(c.categories) if c.categories else None))
        elif c.kind == "image":
            out.append(ColumnSpec(c.name, "image", "binary"))
        else:
            out.append(ColumnSpec(c.name, "tensor", "float", tuple(c.shape or ())))
    return TableSpec(tuple(out))


def _nested(shape: list[int]) -> dict:
    if not shape:
        return {"type": "number"}
    return {"type": "array", "minItems": shape[0], "maxItems": shape[0], "items": _nested(shape[1:])}


def value_schema(c: ServiceColumn) -> dict:
    """The JSON Schema of one value of column `c` in a request row."""
    if c.kind == "number":
        s: dict[str, Any] = {"type": "number"}
    elif c.kind == "string":
        s = {"type": "string"}
    elif c.kind == "category":
        s = {"type": "string", **({"enum": list(c.categories)} if c.categories else {})}
    elif c.kind == "image":
        size = f" of {c.shape[0]}×{c.shape[1]} pixels" if c.shape else ""
        s = {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png",
             "description": f"a PNG or JPEG image{size}, base64-encoded"}
    else:
        s = _nested(list(c.shape or []))
    if c.description:
        s["description"] = (c.description + ("; " + s["description"] if "description" in s else ""))
    return s


def rows_schema(columns: list[ServiceColumn], max_rows: int, title: str) -> dict:
    """`{"rows": [row, ...]}` with every declared column required in each row."""
    row = {"type": "object", "title": f"{title} row", "additionalProperties": False,
           "properties": {c.name: value_schema(c) for c in columns}, "required": [c.name for c in columns]}
    return {"type": "object", "title": title, "required": ["rows"], "additionalProperties": False,
            "properties": {"rows": {"type": "array", "minItems": 1, "maxItems": max_rows, "items": row}}}


def output_column_schema(spec) -> dict:
    """The JSON Schema of one value of an output column (from its `ColumnSpec`)."""
    kind = spec.kind
    if kind in ("number",):
        return {"type": ["number", "null"]}
    if kind in ("integer",):
        return {"type": ["integer", "null"]}
    if kind == "boolean":
        return {"type": ["boolean", "null"]}
    if kind == "category":
        return {"type": ["string", "null"], **({"enum": list(spec.categories) + [None]} if spec.categories else {})}
    if kind == "string":
        return {"type": ["string", "null"]}
    if kind == "image":
        return {"type": "string", "contentEncoding": "base64"}
    if kind == "tensor" and spec.shape and all(d is not None for d in spec.shape):
        return _nested(list(spec.shape))
    if kind in ("tensor", "token_sequence"):
        return {"type": "array"}
    return {}


def output_schema(spec, title: str = "Prediction") -> dict:
    """`{"rows": [...]}` for a Service Output table spec (None: not known before a run)."""
    row: dict[str, Any] = {"type": "object", "title": f"{title} row"}
    if spec is not None:
        row["properties"] = {c.name: output_column_schema(c) for c in spec.columns}
        row["required"] = [c.name for c in spec.columns]
    return {"type": "object", "title": title, "required": ["rows"],
            "properties": {"rows": {"type": "array", "items": row}}}
