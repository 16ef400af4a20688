"""Helpers shared by the text nodes (no torch, no pyarrow at import)."""
from __future__ import annotations

from deepnodes.core import NodeError
from deepnodes.table import ColumnError, ColumnSpec, TableSpec

DICTIONARY_TYPE = "text.dictionary"
TOKENS_SPEC = TableSpec((ColumnSpec("index", "integer", "int32"), ColumnSpec("token", "string", "string"),
                         ColumnSpec("count", "integer", "int64"), ColumnSpec("special", "boolean", "bool")))

#: the Sequence Decoder's attention output (`deepnodes.dl.attention_maps.to_table`): one row per map
ATTENTION_SPEC = TableSpec((ColumnSpec("layer", "string", "string"), ColumnSpec("head", "integer", "int32"),
                            ColumnSpec("row", "integer", "int64"),
                            ColumnSpec("source_tokens", "other", "string", (None,)),
                            ColumnSpec("target_tokens", "other", "string", (None,)),
                            ColumnSpec("weights", "tensor", "float", (None, None))))


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


def network_dictionary(vocab, net, port: str = "dictionary", role: str = "output", source_input: str | None = None):
    """The connected dictionary, else the one the network carries (`carried_dictionary`): for role "output" the
    dictionary of the layer producing the network's output, for "source" the one of an Embedding reading
    `source_input` (the encoder's input; the network's inputs are in graph order, so the first may be the
    decoder's); else the only one it carries. One sentence when there is none."""
    if vocab is not None:
        return vocab
    from deepnodes.dl.carried_dictionary import carried

    spec = net.spec
    if role == "output":
        names = [t.partition(":")[0] for t in spec.output_layers]
    else:
        first = source_input or (spec.inputs[0].name if spec.inputs else None)
        names = [e.name for e in spec.layers if e.kind == "Embedding" and any(t.partition(":")[0] == first
                                                                            for t in e.inputs)]
    found = carried(net, names) or carried(net)
    if found is None:
        what = "source dictionary" if role == "source" else "dictionary"
        raise NodeError(f"input '{port}' is not connected and the network carries no dictionary; connect the "
                        f"{what} here, or to the network's Embedding or output Dense layer node before training")
    return found
