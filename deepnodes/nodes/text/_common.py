"""Helpers shared by the text nodes (no torch, no pyarrow at import)."""
from __future__ import annotations

from deepnodes.core import NodeError
from deepnodes.table import ColumnError, ColumnSpec, TableSpec

DICTIONARY_TYPE = "text.dictionary"
TOKENS_SPEC = TableSpec((ColumnSpec("index", "integer", "int32"), ColumnSpec("token", "string", "string"),
                         ColumnSpec("count", "integer", "int64"), ColumnSpec("special", "boolean", "bool")))


def text_column(spec: TableSpec | None, name: str, option: str = "text_column") -> ColumnSpec | None:
    """The string column `name`, or a worded error naming the option."""
    if spec is None:
        return None
    col = spec.column(name, option=option)
    if col.kind not in ("string", "category"):
        raise ColumnError(f"column '{name}' (option '{option}') holds {col.kind} values; it must be a text column")
    return col


def texts(table, name: str, option: str = "text_column") -> list:
    from deepnodes.table.arrow import get_column

    col = get_column(table, name, option)
    return col.cast("string").to_pylist() if str(col.type) != "string" else col.to_pylist()


def require_dictionary(spec, port: str = "dictionary"):
    if spec is not None and getattr(spec, "model_type", DICTIONARY_TYPE) != DICTIONARY_TYPE:
        raise NodeError(f"the model at input '{port}' is a {spec.model_type}, not a text dictionary; "
                        "connect a Character Dictionary, Word Dictionary or Subword Tokenizer")
    return spec


def warn_unknown(ctx, enc, column: str) -> None:
    """One warning that counts the tokens mapped to <unk> and shows a few of them."""
    if enc.unknown:
        share = enc.unknown / max(enc.total, 1)
        shown = ", ".join(repr(x) for x in enc.unknown_examples)
        ctx.warn(f"{enc.unknown} of {enc.total} tokens in column '{column}' ({share:.2%}) are not in the "
                 f"dictionary and were mapped to <unk>" + (f", e.g. {shown}" if shown else ""))
