"""Table specs: what a node knows about a table before any data flows.

This module is pure Python (no pyarrow) so that configuring a workflow stays fast.
`deepnodes.table.arrow.spec_of(table)` builds a spec from a real `pyarrow.Table`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal

ColumnKind = Literal["number", "integer", "string", "category", "image", "tensor", "token_sequence", "boolean", "other"]

#: The column kinds a user sees. "integer" is a number column with an integer dtype.
KINDS: tuple[str, ...] = ("number", "integer", "string", "category", "image", "tensor", "token_sequence", "boolean", "other")

#: Key in an Arrow field's metadata that marks a column's kind where the Arrow type alone can't tell
#: (an image is a binary column, a token sequence a list of integers, a category a string or dictionary).
KIND_KEY = b"deepnodes.kind"
#: Field metadata key for the list of categories a category column may take (JSON list).
CATEGORIES_KEY = b"deepnodes.categories"


class ColumnError(ValueError):
    """A column a node was told to use is missing or of the wrong kind."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name, kind, element dtype and, for tensor columns, the per-row shape."""

    name: str
    kind: str
    dtype: str = ""
    shape: tuple[int | None, ...] | None = None
    categories: tuple[str, ...] | None = None

    def describe(self) -> str:
        s = f"{self.name} ({self.kind}"
        if self.shape is not None:
            s += " " + "×".join("?" if d is None else str(d) for d in self.shape)
        if self.dtype and self.kind not in ("string", "category"):
            s += f", {self.dtype}"
        return s + ")"

    def to_json(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "dtype": self.dtype}
        if self.shape is not None:
            d["shape"] = list(self.shape)
        if self.categories is not None:
            d["categories"] = list(self.categories)
        return d


@dataclass(frozen=True)
class TableSpec:
    """The columns of a table, in order. `port_type` lets the engine check connections."""

    columns: tuple[ColumnSpec, ...] = field(default_factory=tuple)
    port_type = "table"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __contains__(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def column(self, name: str, node: str | None = None, option: str | None = None) -> ColumnSpec:
        """The column called `name`; a `ColumnError` naming the option and the columns there are if it is missing."""
        for c in self.columns:
            if c.name == name:
                return c
        where = f" (option '{option}')" if option else ""
        have = ", ".join(repr(n) for n in self.names) or "none"
        raise ColumnError(f"column '{name}'{where} is not in the input table; its columns are {have}")

    def with_columns(self, cols: Iterable[ColumnSpec]) -> "TableSpec":
        """A spec with these columns added, replacing any of the same name in place."""
        cols = list(cols)
        new = {c.name: c for c in cols}
        out = [new.pop(c.name, c) for c in self.columns]
        out += [c for c in cols if c.name in new]
        return TableSpec(tuple(out))

    def without(self, names: Iterable[str]) -> "TableSpec":
        drop = set(names)
        return TableSpec(tuple(c for c in self.columns if c.name not in drop))

    def select(self, names: Iterable[str]) -> "TableSpec":
        by = {c.name: c for c in self.columns}
        return TableSpec(tuple(by[n] for n in names if n in by))

    def to_json(self) -> dict:
        return {"port_type": "table", "columns": [c.to_json() for c in self.columns]}

    def describe(self) -> str:
        return ", ".join(c.describe() for c in self.columns)
