"""Table operations behind the data nodes: column and row filters, sampling, partitioning,
category → number, one-hot and columns → tensor.

Every function takes and returns `pyarrow.Table`s, keeps the carried `row_id` column, and raises a
`ColumnError` / `ValueError` worded as one sentence naming the option or column. Random choices come
from an explicit `seed`. Each function has a `*_spec` twin (pure Python) that gives the output spec at
configure time; the tests check that the two agree.

    >>> first, second = partition(table, fraction=0.8, method="stratified", column="label", seed=1)  # doctest: +SKIP
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow import ROW_ID, get_column, kind_of, mark, set_column, spec_of, tensor_array, to_numpy
from .spec import CATEGORIES_KEY, ColumnError, ColumnSpec, TableSpec

NUMBER_KINDS = ("number", "integer", "boolean")
LABEL_KINDS = ("category", "string", "integer", "boolean")


# --------------------------------------------------------------------------- spec checks (pure Python)
def require_column(spec: TableSpec, name: str, option: str, kinds: Sequence[str] | None = None) -> ColumnSpec:
    """The column called `name`, or one sentence naming the option, the column and what is wrong."""
    if not name:
        raise ColumnError(f"no column is selected; set option '{option}'")
    col = spec.column(name, option=option)
    if kinds is not None and col.kind not in kinds:
        raise ColumnError(f"column '{name}' (option '{option}') is {a_kind(col.kind)} column; "
                          f"it must be {_or(kinds)}")
    return col


def require_columns(spec: TableSpec, names: Sequence[str], option: str,
                    kinds: Sequence[str] | None = None) -> list[ColumnSpec]:
    if not names:
        raise ColumnError(f"option '{option}' selects no column; choose at least one")
    return [require_column(spec, n, option, kinds) for n in names]


def a_kind(kind: str) -> str:
    """'an integer', 'a tensor': the kind with its article, for messages."""
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def _or(kinds: Sequence[str]) -> str:
    kinds = list(kinds)
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]


def require_rows(table: pa.Table, what: str = "input table") -> None:
    if table.num_rows == 0:
        raise ColumnError(f"the {what} is empty; this node needs at least one row")


# --------------------------------------------------------------------------- columns
def filter_columns_spec(spec: TableSpec, columns: Sequence[str], mode: str = "include",
                        kinds: Sequence[str] = ()) -> TableSpec:
    for c in columns:
        spec.column(c, option="columns")
    chosen = set(columns) | {c.name for c in spec.columns if c.kind in set(kinds)}
    if mode == "include":
        keep = [c.name for c in spec.columns if c.name in chosen or c.name == ROW_ID]
    else:
        keep = [c.name for c in spec.columns if c.name not in chosen]
    if not [k for k in keep if k != ROW_ID]:
        raise ColumnError("the column filter leaves no column; change option 'columns'")
    return spec.select(keep)


def filter_columns(table: pa.Table, columns: Sequence[str], mode: str = "include",
                   kinds: Sequence[str] = ()) -> pa.Table:
    """Keep (`mode='include'`) or drop the named columns and every column of the given kinds; `row_id` stays."""
    out = filter_columns_spec(spec_of(table), columns, mode, kinds)
    return table.select(out.names)


# --------------------------------------------------------------------------- row filter
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "is missing", "is not missing", "contains", "matches")


def _parse_value(raw: str, kind: str, option: str = "value"):
    if kind in ("number", "integer"):
        try:
            v = float(raw)
        except ValueError:
            raise ValueError(f"option '{option}' is '{raw}', which is not a number") from None
        return int(v) if kind == "integer" and v.is_integer() else v
    if kind == "boolean":
        if raw.strip().lower() in ("true", "1", "yes"):
            return True
        if raw.strip().lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"option '{option}' is '{raw}', which is not true or false")
    return raw


def filter_rows_spec(spec: TableSpec, column: str, operator: str) -> TableSpec:
    col = require_column(spec, column, "column")
    if operator not in OPERATORS:
        raise ValueError(f"option 'operator' is '{operator}'; it must be one of {', '.join(OPERATORS)}")
    if col.kind in ("tensor", "image", "token_sequence", "other"):
        raise ColumnError(f"column '{column}' (option 'column') is {a_kind(col.kind)} column; a row filter compares "
                          "numbers, strings, categories or booleans")
    if operator in ("contains", "matches") and col.kind not in ("string", "category"):
        raise ColumnError(f"operator '{operator}' needs a string or category column, but column '{column}' "
                          f"(option 'column') is {a_kind(col.kind)} column")
    return spec


def filter_rows(table: pa.Table, column: str, operator: str, value: str = "", keep: bool = True) -> pa.Table:
    """Rows where `column operator value` holds (or, with `keep=False`, the others). Missing values never match."""
    spec = spec_of(table)
    filter_rows_spec(spec, column, operator)
    kind = spec.column(column).kind
    col = get_column(table, column, "column")
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if operator == "is missing":
        mask = pc.is_null(col)
    elif operator == "is not missing":
        mask = pc.is_valid(col)
    elif operator in ("in", "not in"):
        vals = [_parse_value(v.strip(), kind) for v in value.split(",") if v.strip() != ""]
        mask = pc.is_in(col, value_set=pa.array(vals, type=col.type))
        if operator == "not in":
            mask = pc.and_(pc.invert(mask), pc.is_valid(col))
    elif operator == "contains":
        mask = pc.match_substring(col, value)
    elif operator == "matches":
        try:
            re.compile(value)
        except re.error as e:
            raise ValueError(f"option 'value' is not a valid regular expression: {e}") from None
        mask = pc.match_substring_regex(col, f"^(?:{value})$")
    else:
        v = pa.scalar(_parse_value(value, kind), type=col.type if kind != "integer" else None)
        fn = {"==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater,
              ">=": pc.greater_equal}[operator]
        mask = fn(col, v)
    mask = pc.fill_null(mask, False)
    if not keep:
        mask = pc.invert(mask)
    return table.filter(mask)


# --------------------------------------------------------------------------- sampling and partitioning
def _count(n: int, fraction: float | None, count: int | None) -> int:
    if count is not None:
        return max(0, min(int(count), n))
    if fraction is None:
        raise ValueError("set option 'fraction' or option 'count'")
    return int(round(n * float(fraction)))


def _codes(table: pa.Table, column: str, option: str = "column") -> np.ndarray:
    col = get_column(table, column, option)
    kind = kind_of(table.schema.field(column))
    if kind in ("tensor", "image", "token_sequence", "other"):
        raise ColumnError(f"column '{column}' (option '{option}') is {a_kind(kind)} column; stratifying needs a "
                          "category, string, integer or boolean column")
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    vals = col.to_numpy(zero_copy_only=False)
    if vals.dtype == object:
        vals = np.array(["\0missing" if v is None else v for v in vals], dtype=object).astype(str)
    _, inv = np.unique(vals, return_inverse=True)
    return inv.reshape(-1)


def stratified_indices(codes: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """`k` row indices drawn so each class keeps its share (largest-remainder rounding), without a Python loop over rows."""
    n = len(codes)
    if n == 0 or k == 0:
        return np.empty(0, dtype=np.int64)
    counts = np.bincount(codes)
    exact = counts * (k / n)
    take = np.floor(exact).astype(np.int64)
    rest = k - int(take.sum())
    if rest > 0:
        order = np.argsort(-(exact - take), kind="stable")
        take[order[:rest]] += 1
    perm = rng.permutation(n)
    pcodes = codes[perm]
    order = np.argsort(pcodes, kind="stable")  # rows grouped by class, random within each class
    sorted_codes = pcodes[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - starts[sorted_codes]
    chosen = perm[order[rank < take[sorted_codes]]]
    return np.sort(chosen)


def choose_rows(table: pa.Table, k: int, method: str, seed: int, column: str | None) -> np.ndarray:
    n = table.num_rows
    rng = np.random.default_rng(seed)
    if method in ("top", "first"):
        return np.arange(k, dtype=np.int64)
    if method == "random":
        return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    if method == "stratified":
        if not column:
            raise ColumnError("stratified sampling needs a class column; set option 'column'")
        return stratified_indices(_codes(table, column), k, rng)
    raise ValueError(f"option 'method' is '{method}'; it must be random, stratified or top")


def sample_rows(table: pa.Table, fraction: float | None = None, count: int | None = None, method: str = "random",
                seed: int = 0, column: str | None = None) -> pa.Table:
    """A sample of rows (random, stratified by `column`, or the first ones), in their original order."""
    k = _count(table.num_rows, fraction, count)
    return table.take(pa.array(choose_rows(table, k, method, seed, column)))


def partition(table: pa.Table, fraction: float | None = None, count: int | None = None, method: str = "random",
              seed: int = 0, column: str | None = None) -> tuple[pa.Table, pa.Table]:
    """Split rows in two: the chosen share (first output) and the rest (second), each in original row order."""
    n = table.num_rows
    k = _count(n, fraction, count)
    idx = choose_rows(table, k, method, seed, column)
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    rest = np.flatnonzero(~mask)
    return table.take(pa.array(idx)), table.take(pa.array(rest))


# --------------------------------------------------------------------------- category -> number
MAPPING_SPEC = TableSpec((ColumnSpec("column", "string", "string"), ColumnSpec("category", "string", "string"),
                          ColumnSpec("number", "integer", "int64")))


def category_to_number_spec(spec: TableSpec, columns: Sequence[str], suffix: str = "") -> tuple[TableSpec, TableSpec]:
    cols = require_columns(spec, columns, "columns", ("category", "string", "boolean"))
    new = [ColumnSpec(c.name + suffix, "integer", "int64") for c in cols]
    return spec.with_columns(new), MAPPING_SPEC


def categories_of(table: pa.Table, column: str) -> list[str]:
    """A category column's categories: from its metadata when recorded, else the sorted distinct values."""
    f = table.schema.field(column)
    meta = f.metadata or {}
    if CATEGORIES_KEY in meta:
        import json

        return list(json.loads(meta[CATEGORIES_KEY]))
    col = table.column(column)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    uniq = pc.unique(pc.drop_null(col)).to_pylist()
    return sorted(str(u) for u in uniq)


def _as_strings(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return col if pa.types.is_string(col.type) else col.cast(pa.string())


def category_to_number(table: pa.Table, columns: Sequence[str], suffix: str = "", start: int = 0,
                       mapping: pa.Table | None = None) -> tuple[pa.Table, pa.Table]:
    """Each category column as integers `start, start+1, ...` (in category order) plus the mapping table.

    With `mapping` (a mapping table from an earlier run) the same numbers are used; an unseen category
    becomes missing.
    """
    category_to_number_spec(spec_of(table), columns, suffix)
    out = table
    rows: dict[str, list] = {"column": [], "category": [], "number": []}
    for name in columns:
        if mapping is not None:
            m = mapping.filter(pc.equal(mapping.column("column"), name))
            cats = m.column("category").to_pylist()
            nums = m.column("number").to_pylist()
        else:
            cats = categories_of(table, name)
            nums = list(range(start, start + len(cats)))
        col = _as_strings(table.column(name))
        idx = pc.index_in(col, value_set=pa.array(cats, type=pa.string()))
        values = pc.take(pa.array(nums, type=pa.int64()), idx)
        out = set_column(out, name + suffix, values)
        rows["column"] += [name] * len(cats)
        rows["category"] += cats
        rows["number"] += nums
    map_table = pa.table({"column": pa.array(rows["column"], pa.string()),
                          "category": pa.array(rows["category"], pa.string()),
                          "number": pa.array(rows["number"], pa.int64())})
    return out, map_table


# --------------------------------------------------------------------------- one-hot
def one_hot_spec(spec: TableSpec, column: str, output_column: str = "", num_classes: int = 0,
                 remove_source: bool = False) -> TableSpec:
    col = require_column(spec, column, "column", ("category", "string", "integer", "boolean"))
    k: int | None = num_classes or None
    if k is None and col.categories is not None:
        k = len(col.categories)
    if k is None and col.kind == "boolean":
        k = 2
    name = output_column or f"{column}_onehot"
    out = spec.with_columns([ColumnSpec(name, "tensor", "float", (k,))])
    return out.without([column]) if remove_source and name != column else out


def one_hot(table: pa.Table, column: str, output_column: str = "", num_classes: int = 0,
            remove_source: bool = False) -> pa.Table:
    """A (K,) float32 one-hot tensor column from a category/string column (K = its categories) or an
    integer column (K = `num_classes`, else max + 1). Missing values give an all-zero row."""
    spec = spec_of(table)
    one_hot_spec(spec, column, output_column, num_classes, remove_source)
    kind = spec.column(column).kind
    col = table.column(column)
    if kind in ("integer", "boolean"):
        codes = pc.fill_null(col.cast(pa.int64()), -1).to_numpy()
        k = num_classes or (int(codes.max()) + 1 if len(codes) else 0)
        if kind == "boolean":
            k = num_classes or 2
        if len(codes) and codes.min() < -1:
            raise ValueError(f"column '{column}' (option 'column') holds negative numbers; one-hot needs class "
                             "numbers 0, 1, 2, ...")
        if len(codes) and codes.max() >= k:
            raise ValueError(f"column '{column}' (option 'column') holds the class number {int(codes.max())}, "
                             f"but option 'num_classes' is {k}")
    else:
        cats = categories_of(table, column)
        k = num_classes or len(cats)
        if len(cats) > k:
            raise ValueError(f"column '{column}' (option 'column') has {len(cats)} categories, but option "
                             f"'num_classes' is {k}")
        codes = pc.fill_null(pc.index_in(_as_strings(col), value_set=pa.array(cats, pa.string())), -1).to_numpy()
    if k == 0:
        raise ColumnError(f"column '{column}' (option 'column') has no classes to encode (the table is empty or the "
                          "column holds only missing values); set option 'num_classes'")
    out = np.zeros((len(codes), k), dtype=np.float32)
    valid = codes >= 0
    out[np.flatnonzero(valid), codes[valid]] = 1.0
    name = output_column or f"{column}_onehot"
    result = set_column(table, name, tensor_array(out))
    if remove_source and name != column:
        result = result.drop_columns([column])
    return result


# --------------------------------------------------------------------------- columns -> tensor
def columns_to_tensor_spec(spec: TableSpec, columns: Sequence[str], output_column: str = "features",
                           remove_source: bool = False, dtype: str = "float32") -> TableSpec:
    require_columns(spec, columns, "columns", NUMBER_KINDS)
    if not output_column:
        raise ValueError("option 'output_column' is empty; name the tensor column")
    arrow_dtype = {"float32": "float", "float64": "double"}.get(dtype)
    if arrow_dtype is None:
        raise ValueError(f"option 'dtype' is '{dtype}'; it must be float32 or float64")
    out = spec.with_columns([ColumnSpec(output_column, "tensor", arrow_dtype, (len(columns),))])
    return out.without([c for c in columns if c != output_column]) if remove_source else out


def columns_to_tensor(table: pa.Table, columns: Sequence[str], output_column: str = "features",
                      remove_source: bool = False, dtype: str = "float32") -> pa.Table:
    """Number columns → one (len(columns),) tensor column (missing values become NaN)."""
    columns_to_tensor_spec(spec_of(table), columns, output_column, remove_source, dtype)
    np_dtype = np.float32 if dtype == "float32" else np.float64
    out = np.empty((table.num_rows, len(columns)), dtype=np_dtype)
    for j, c in enumerate(columns):
        col = table.column(c)
        if col.null_count:
            col = pc.fill_null(col.cast(pa.float64()), float("nan"))
        out[:, j] = to_numpy(col)
    result = set_column(table, output_column, tensor_array(out))
    if remove_source:
        result = result.drop_columns([c for c in columns if c != output_column])
    return result


__all__ = ["OPERATORS", "MAPPING_SPEC", "require_column", "require_columns", "require_rows", "filter_columns",
           "filter_columns_spec", "filter_rows", "filter_rows_spec", "sample_rows", "partition", "choose_rows",
           "stratified_indices", "category_to_number", "category_to_number_spec", "categories_of", "one_hot",
           "one_hot_spec", "columns_to_tensor", "columns_to_tensor_spec"]
