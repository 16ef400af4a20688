"""DeepNodes tables to H2O frames and back, column-wise through Arrow (no per-row Python loop).

Features are number / integer / boolean columns (one H2O number column each), category and string
columns (one H2O enum column each) and tensor columns (one number column per element, named "col[i]",
as the classic learners name them). The layout is recorded in the model, so a table to score is checked
against it, including the categories each enum column was trained on.
"""
from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Sequence

import numpy as np

from deepnodes.ml.features import NUMERIC_KINDS, FeatureColumn, feature_names
from deepnodes.table import ColumnError, TableSpec

if TYPE_CHECKING:
    import pyarrow as pa

CATEGORY_KINDS = ("category", "string")
H2O_FEATURE_KINDS = NUMERIC_KINDS + CATEGORY_KINDS + ("tensor",)


def resolve_columns(spec: TableSpec, columns: Sequence[str], target: str,
                    option: str = "feature_columns") -> list[FeatureColumn]:
    """The named feature columns (checked), or every number, category and tensor column but the target."""
    if columns:
        chosen = [spec.column(n, option=option) for n in columns]
        for c in chosen:
            if c.kind not in H2O_FEATURE_KINDS:
                raise ColumnError(f"column '{c.name}' (option '{option}') is a {c.kind} column; H2O features must be "
                                  f"number, category, string or tensor columns")
            if c.name == target:
                raise ColumnError(f"column '{c.name}' is both the target and a feature (option '{option}')")
    else:
        chosen = [c for c in spec.columns if c.kind in H2O_FEATURE_KINDS and c.name not in (target, "row_id")]
        if not chosen:
            raise ColumnError(f"the input table has no number, category or tensor columns to use as features "
                              f"(option '{option}'); its columns are {', '.join(repr(n) for n in spec.names)}")
    out = []
    for c in chosen:
        if c.kind == "tensor":
            if c.shape is None or any(d is None for d in c.shape):
                raise ColumnError(f"tensor column '{c.name}' has no fixed shape; H2O features need a fixed shape")
            out.append(FeatureColumn(c.name, "tensor", tuple(int(d) for d in c.shape)))
        else:
            out.append(FeatureColumn(c.name, "category" if c.kind in CATEGORY_KINDS else "number"))
    return out


def check_spec(spec: TableSpec, features: Sequence[FeatureColumn]) -> None:
    """A table to score has every feature column, of the kind and shape the model was trained on."""
    for f in features:
        c = spec.column(f.name)
        if f.kind == "tensor":
            if c.kind != "tensor" or tuple(c.shape or ()) != tuple(f.shape):
                got = f"a {c.kind} column" + (f" of shape {tuple(c.shape)}" if c.shape else "")
                raise ColumnError(f"column '{f.name}' must be a tensor column of shape {tuple(f.shape)} as when the "
                                  f"model was trained; it is {got}")
        elif f.kind == "category" and c.kind not in CATEGORY_KINDS:
            raise ColumnError(f"column '{f.name}' must be a category or string column as when the model was "
                              f"trained; it is a {c.kind} column")
        elif f.kind == "number" and c.kind not in NUMERIC_KINDS:
            raise ColumnError(f"column '{f.name}' must be a number column as when the model was trained; "
                              f"it is a {c.kind} column")


def flat_table(table: pa.Table, features: Sequence[FeatureColumn], target: str | None = None,
               target_enum: bool = False) -> pa.Table:
    """The H2O view of `table`: one float64 column per number or tensor element, strings for categories."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from deepnodes.table.arrow import get_column, to_numpy

    names: list[str] = []
    arrays: list = []
    for f in features:
        col = get_column(table, f.name)
        if f.kind == "tensor":
            m = np.asarray(to_numpy(col), dtype=np.float64).reshape(table.num_rows, -1)
            names += feature_names([f])
            arrays += [pa.array(m[:, i]) for i in range(m.shape[1])]
        elif f.kind == "category":
            names.append(f.name)
            arrays.append(_as_string(col))
        else:
            names.append(f.name)
            arrays.append(pc.cast(col, pa.float64()))
    if target is not None:
        col = get_column(table, target, "target_column")
        names.append(target)
        arrays.append(_as_string(col) if target_enum else pc.cast(col, pa.float64()))
    return pa.Table.from_arrays(arrays, names=names)


def _as_string(col):
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return pc.cast(col, pa.string())


def check_categories(table: pa.Table, features: Sequence[FeatureColumn], domains: dict[str, list[str]]) -> None:
    """A category the model never saw in training is a ColumnError (H2O would silently score it as missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from deepnodes.table.arrow import get_column

    for f in features:
        dom = domains.get(f.name)
        if f.kind != "category" or dom is None:
            continue
        col = _as_string(get_column(table, f.name))
        bad = pc.and_(pc.invert(pc.is_in(col, value_set=pa.array(dom, pa.string()))), pc.is_valid(col))
        if pc.any(bad).as_py():
            first = pc.filter(col, bad)[0].as_py()
            n = pc.sum(bad.cast(pa.int64())).as_py()
            shown = ", ".join(repr(d) for d in dom[:10]) + (", ..." if len(dom) > 10 else "")
            rows = f"{n} row" + ("s" if n != 1 else "")
            raise ColumnError(f"column '{f.name}' holds the category {first!r} ({rows}), which the model was not "
                              f"trained on; its categories are {shown}")


def upload(flat: pa.Table, name: str = "deepnodes"):
    """An H2OFrame of `flat` (written as Parquet and uploaded): string columns become enums, the rest reals."""
    import h2o
    import pyarrow.parquet as pq

    fd, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(flat, path)
        types = {f.name: "enum" if f.type == "string" else "real" for f in flat.schema}
        return h2o.upload_file(path, col_types=types)
    finally:
        os.unlink(path)


def frame_to_arrow(frame) -> pa.Table:
    """An H2OFrame's contents as an Arrow table (H2O's CSV download, parsed by Arrow)."""
    import io

    import h2o
    import pyarrow.csv as pcsv

    text = h2o.connection().request("GET /3/DownloadDataset", data={"frame_id": frame.frame_id, "hex_string": False})
    data = text.encode() if isinstance(text, str) else bytes(text)
    types = dict(frame.types)
    col_types = {n: _arrow_type(t) for n, t in types.items()}
    return pcsv.read_csv(io.BytesIO(data), convert_options=pcsv.ConvertOptions(column_types=col_types,
                                                                                 strings_can_be_null=True))


def _arrow_type(h2o_type: str):
    import pyarrow as pa

    return {"int": pa.float64(), "real": pa.float64(), "enum": pa.string(), "string": pa.string(),
            "time": pa.float64()}.get(h2o_type, pa.string())
