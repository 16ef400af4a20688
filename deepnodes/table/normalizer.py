"""A fitted normalizer: min-max or z-score per column, saved as JSON (never pickled).

`y = (x - offset) * scale + shift`, with per-column `offset` / `scale` and a common `shift`:
min-max to [a, b] uses offset = min, scale = (b - a) / (max - min), shift = a; z-score uses
offset = mean, scale = 1 / std, shift = 0. A constant column maps to `shift`. Number and integer
columns become float64 number columns; tensor columns are scaled as a whole (one min/max or
mean/std over every value) and become float32.

    >>> norm = Normalizer.fit(table, ["age", "income"], method="zscore")   # doctest: +SKIP
    >>> norm.apply(other_table)                                            # doctest: +SKIP
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.model import Model, ModelSpec
from .spec import ColumnError, ColumnSpec, TableSpec

METHODS = ("minmax", "zscore")
KINDS = ("number", "integer", "tensor")


@dataclass
class Normalizer(Model):
    method: str = "minmax"
    columns: dict[str, dict] = field(default_factory=dict)  # name -> {"offset", "scale", "kind", "shape"}
    shift: float = 0.0
    new_min: float = 0.0
    new_max: float = 1.0

    model_type = "normalizer"

    # ---------------------------------------------------------------- fitting
    @classmethod
    def fit(cls, table, columns: Sequence[str], method: str = "minmax", new_min: float = 0.0,
            new_max: float = 1.0) -> "Normalizer":
        from .arrow import spec_of, to_numpy

        spec = spec_of(table)
        cols = check_columns(spec, columns, method)
        if table.num_rows == 0:
            raise ColumnError("the input table is empty; the normalizer needs at least one row to fit")
        if method == "minmax" and not new_max > new_min:
            raise ValueError(f"option 'new_max' ({new_max}) must be greater than option 'new_min' ({new_min})")
        fitted: dict[str, dict] = {}
        for c in cols:
            x = _values(to_numpy(table.column(c.name)))
            if method == "minmax":
                lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
                offset, scale = lo, ((new_max - new_min) / (hi - lo) if hi > lo else 0.0)
            else:
                mean, std = float(np.nanmean(x)), float(np.nanstd(x))
                offset, scale = mean, (1.0 / std if std > 0 else 0.0)
            fitted[c.name] = {"offset": offset, "scale": scale, "kind": c.kind,
                              "shape": list(c.shape) if c.shape is not None else None}
        shift = new_min if method == "minmax" else 0.0
        return cls(method, fitted, shift, new_min, new_max)

    # ---------------------------------------------------------------- applying
    def output_spec(self, spec: TableSpec) -> TableSpec:
        """The spec after `apply`, checking that every fitted column is there with the same kind."""
        from .ops import a_kind

        new = []
        for name, p in self.columns.items():
            c = spec.column(name, option="normalizer columns")
            if c.kind not in KINDS or (c.kind == "tensor") != (p["kind"] == "tensor"):
                raise ColumnError(f"column '{name}' is {a_kind(c.kind)} column here but was {a_kind(p['kind'])} column when the "
                                  "normalizer was fitted")
            if c.kind == "tensor":
                new.append(ColumnSpec(name, "tensor", "float", c.shape))
            else:
                new.append(ColumnSpec(name, "number", "double"))
        return spec.with_columns(new)

    def apply(self, table, inverse: bool = False):
        """`table` with the fitted columns normalized (or, with `inverse=True`, mapped back)."""
        import pyarrow as pa

        from .arrow import set_column, spec_of, tensor_array, to_numpy

        self.output_spec(spec_of(table))
        out = table
        for name, p in self.columns.items():
            col = table.column(name)
            is_tensor = p["kind"] == "tensor"
            x = to_numpy(col) if is_tensor or not col.null_count else col.cast(pa.float64()).to_numpy(zero_copy_only=False)
            x = x.astype(np.float32 if is_tensor else np.float64, copy=True)
            off, sc = np.float64(p["offset"]), np.float64(p["scale"])
            if inverse:
                y = x - self.shift
                if sc != 0:
                    y /= sc
                y += off
            else:
                y = x - off
                y *= sc
                y += self.shift
            if is_tensor:
                out = set_column(out, name, tensor_array(y.astype(np.float32, copy=False)))
            else:
                out = set_column(out, name, pa.array(y, mask=np.isnan(y) if col.null_count else None))
        return out

    # ---------------------------------------------------------------- model port
    def spec(self) -> ModelSpec:
        return ModelSpec(self.model_type, {"method": self.method, "columns": list(self.columns)})

    def to_json(self) -> dict:
        return {"format": "deepnodes.normalizer/1", "method": self.method, "shift": self.shift,
                "new_min": self.new_min, "new_max": self.new_max, "columns": self.columns}

    @classmethod
    def from_json(cls, d: dict) -> "Normalizer":
        if d.get("format") != "deepnodes.normalizer/1":
            raise ValueError(f"not a DeepNodes normalizer file (format {d.get('format')!r})")
        return cls(d["method"], dict(d["columns"]), float(d["shift"]), float(d["new_min"]), float(d["new_max"]))

    def save(self, folder: Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "normalizer.json").write_text(json.dumps(self.to_json(), indent=2))

    @classmethod
    def load(cls, folder: Path) -> "Normalizer":
        return cls.from_json(json.loads((Path(folder) / "normalizer.json").read_text()))

    def summary(self) -> dict:
        return {"model_type": self.model_type, "method": self.method, "columns": list(self.columns)}


def check_columns(spec: TableSpec, columns: Sequence[str], method: str) -> list[ColumnSpec]:
    from .ops import require_columns

    if method not in METHODS:
        raise ValueError(f"option 'method' is '{method}'; it must be minmax or zscore")
    return require_columns(spec, columns, "columns", KINDS)


def fitted_spec(spec: TableSpec, columns: Sequence[str], method: str) -> tuple[TableSpec, ModelSpec]:
    """Configure-time output specs of fitting + applying a normalizer."""
    cols = check_columns(spec, columns, method)
    new = [ColumnSpec(c.name, "tensor", "float", c.shape) if c.kind == "tensor" else ColumnSpec(c.name, "number", "double")
           for c in cols]
    return spec.with_columns(new), ModelSpec(Normalizer.model_type, {"method": method, "columns": list(columns)})


def _values(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64, copy=False) if x.dtype != object else np.array(x, dtype=np.float64)
