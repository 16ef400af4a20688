"""Feature matrices and targets for classic models.

Features come from number / integer / boolean columns (one feature each) and tensor columns (flattened,
one feature per element, named "col[i]"). The layout is recorded in the model so the predictor checks a
new table against it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from deepnodes.table import ColumnError, TableSpec

if TYPE_CHECKING:  # pyarrow is imported where data is touched, so configuring stays light
    import pyarrow as pa

NUMERIC_KINDS = ("number", "integer", "boolean")
FEATURE_KINDS = NUMERIC_KINDS + ("tensor",)


@dataclass(frozen=True)
class FeatureColumn:
    name: str
    kind: str  # "number" or "tensor"
    shape: tuple[int, ...] = ()

    @property
    def width(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape)}

    @classmethod
    def from_json(cls, d: dict) -> "FeatureColumn":
        return cls(d["name"], d["kind"], tuple(d.get("shape", ())))


def resolve_features(spec: TableSpec, columns: Sequence[str], exclude: Sequence[str] = (),
                     option: str = "feature_columns") -> list[FeatureColumn]:
    """The feature columns to use: the named ones (checked), or every number and tensor column but `exclude`."""
    out: list[FeatureColumn] = []
    if columns:
        for name in columns:
            c = spec.column(name, option=option)
            if c.kind not in FEATURE_KINDS:
                raise ColumnError(f"column '{name}' (option '{option}') is a {c.kind} column; features must be "
                                  f"number, integer, boolean or tensor columns")
            out.append(_feature(c))
    else:
        out = [_feature(c) for c in spec.columns if c.kind in FEATURE_KINDS and c.name not in exclude
               and c.name != "row_id"]
        if not out:
            raise ColumnError(f"the input table has no number or tensor columns to use as features (option "
                              f"'{option}'); its columns are {', '.join(repr(n) for n in spec.names) or 'none'}")
    for f in out:
        if f.name in exclude:
            raise ColumnError(f"column '{f.name}' is both the target and a feature (option '{option}')")
    return out


def _feature(c) -> FeatureColumn:
    if c.kind == "tensor":
        if c.shape is None or any(d is None for d in c.shape):
            raise ColumnError(f"tensor column '{c.name}' has no fixed shape; features need a fixed shape")
        return FeatureColumn(c.name, "tensor", tuple(int(d) for d in c.shape))
    return FeatureColumn(c.name, "number")


def feature_names(features: Sequence[FeatureColumn]) -> list[str]:
    names: list[str] = []
    for f in features:
        if f.kind == "tensor":
            names += [f"{f.name}[{i}]" for i in range(f.width)]
        else:
            names.append(f.name)
    return names


def feature_matrix(table: pa.Table, features: Sequence[FeatureColumn], option: str = "feature_columns") -> np.ndarray:
    """An (N, n_features) float32 matrix; a column of another shape than at training is a ColumnError."""
    from deepnodes.table.arrow import get_column, spec_of, to_numpy

    spec = spec_of(table)
    parts = []
    for f in features:
        c = spec.column(f.name, option=option)
        if f.kind == "tensor":
            if c.kind != "tensor" or tuple(c.shape or ()) != f.shape:
                got = f"a {c.kind} column" + (f" of shape {tuple(c.shape)}" if c.shape else "")
                raise ColumnError(f"column '{f.name}' must be a tensor column of shape {f.shape} as when the model "
                                  f"was trained; it is {got}")
            arr = to_numpy(get_column(table, f.name)).reshape(table.num_rows, -1)
        else:
            if c.kind not in NUMERIC_KINDS:
                raise ColumnError(f"column '{f.name}' must be a number column as when the model was trained; "
                                  f"it is a {c.kind} column")
            col = get_column(table, f.name)
            arr = np.asarray(col.to_numpy(), dtype=np.float32).reshape(-1, 1) if col.null_count == 0 else \
                np.asarray(col.to_pandas(), dtype=np.float32).reshape(-1, 1)
        parts.append(arr.astype(np.float32, copy=False))
    return np.concatenate(parts, axis=1) if len(parts) > 1 else np.ascontiguousarray(parts[0])


# --------------------------------------------------------------------------- targets
def target_kind(spec: TableSpec, target: str, option: str = "target_column") -> str:
    return spec.column(target, option=option).kind


def task_for(kind: str, task: str, target: str) -> str:
    """'classification' or 'regression' from the option (`auto` decides by the target's kind)."""
    if task == "auto":
        return "regression" if kind == "number" else "classification"
    if task == "regression" and kind not in ("number", "integer", "boolean"):
        raise ColumnError(f"column '{target}' (option 'target_column') is a {kind} column; regression needs a "
                          f"number column")
    if task == "classification" and kind not in ("string", "category", "integer", "boolean"):
        raise ColumnError(f"column '{target}' (option 'target_column') is a {kind} column; classification needs a "
                          f"string, category, integer or boolean column (set task to 'regression' for numbers)")
    return task


def encode_classes(column: pa.ChunkedArray, target: str, class_names: Sequence[str] | None = None
                   ) -> tuple[np.ndarray, list[str]]:
    """Class indices (int32) and the class names (sorted, or the given ones) of a classification target."""
    if column.null_count:
        raise ColumnError(f"column '{target}' (option 'target_column') has {column.null_count} missing values; "
                          f"remove those rows first")
    values = column.to_pandas().astype(str).to_numpy()
    if class_names is None:
        uniq = np.unique(values)
        # integers sort as numbers, not as text
        try:
            uniq = np.array(sorted(uniq, key=lambda s: float(s)))
        except ValueError:
            pass
        class_names = [str(u) for u in uniq]
        if len(class_names) < 2:
            raise ColumnError(f"column '{target}' (option 'target_column') has only one class "
                              f"({class_names[0]!r}); classification needs at least two")
    index = {c: i for i, c in enumerate(class_names)}
    try:
        y = np.fromiter((index[v] for v in values), dtype=np.int32, count=len(values))
    except KeyError as e:
        raise ColumnError(f"column '{target}' holds the class {e.args[0]!r}, which the model was not trained on; "
                          f"its classes are {', '.join(map(repr, class_names))}") from None
    return y, list(class_names)


def regression_target(column: pa.ChunkedArray, target: str) -> np.ndarray:
    y = np.asarray(column.to_pandas(), dtype=np.float64)
    if np.isnan(y).any():
        raise ColumnError(f"column '{target}' (option 'target_column') has {int(np.isnan(y).sum())} missing values; "
                          f"remove those rows first")
    return y
