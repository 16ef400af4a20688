"""Text ↔ token ids: Text to Index Sequence, Sliding Windows (language-model training data), Index
Sequence to Text."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, limits, node
from deepnodes.table import ColumnError, ColumnSpec, TableSpec

from ._common import require_dictionary, text_column, texts, warn_unknown

_DICT_IN = In("dictionary", "model", "a Character Dictionary, Word Dictionary or Subword Tokenizer")


def _ids_spec(name: str, length: int | None, pad: bool) -> ColumnSpec:
    if pad:
        return ColumnSpec(name, "tensor", "int32", (length,))
    return ColumnSpec(name, "token_sequence", "int32", (None,))


def _put(table, name: str, ids, vocab, pad: bool):
    """`table` with the ids as a tensor column (padded) or a token-sequence column, the dictionary in the
    field's metadata (`deepnodes.dictionary`)."""
    import json

    import pyarrow as pa

    from deepnodes.table.arrow import mark, tensor_array, token_array

    arr = tensor_array(ids) if pad else token_array(ids)
    field = pa.field(name, arr.type)
    if not pad:
        field = mark(field, "token_sequence")
    meta = dict(field.metadata or {})
    meta[b"deepnodes.dictionary"] = json.dumps({"level": vocab.level, "size": vocab.size}).encode()
    field = field.with_metadata(meta)
    i = table.schema.get_field_index(name)
    return table.set_column(i, field, arr) if i >= 0 else table.append_column(field, arr)


@node("deepnodes.text.TextToIndexSequence", name="Text to Index Sequence", category="Text/Sequences")
class TextToIndexSequence(Node):
    """Turns a text column into token ids with a dictionary: optional start/end tokens, truncation, and
    padding to a fixed length or to the longest row (a tensor column), or no padding (a token-sequence
    column). With `teacher_forcing` it writes the decoder input (<s> + text) and the target (text + </s>)
    of an encoder-decoder as two columns of equal length. Characters or words not in the dictionary map
    to <unk> and are counted in a warning."""

    inputs = [In("table", "table", "rows with a text column"), _DICT_IN]
    outputs = [Out("table", "table", "the input table with the id column(s) added")]

    class Config(NodeConfig):
        text_column: str = Field("text", description="the column holding the text")
        output_column: str = Field("", description="name of the id column (empty = '<text_column>_ids'); "
                                                   "with teacher_forcing the suffixes _input and _target are added")
        add_start: bool = Field(False, description="put the start token <s> first")
        add_end: bool = Field(False, description="put the end token </s> last")
        teacher_forcing: bool = Field(False, description="write decoder input (<s> + ids) and target (ids + </s>) "
                                                         "columns for an encoder-decoder")
        length: int | None = Field(None, ge=1, le=limits.LENGTH,
            description="pad or truncate every row to this many ids "
                                                           "(empty = the longest row)")
        pad: bool = Field(True, description="pad to equal length (a tensor column); off = a token-sequence column")
        padding: Literal["post", "pre"] = Field("post", description="where padding goes (Keras pad_sequences)")
        truncating: Literal["post", "pre"] = Field("post", description="which end is cut off when too long")

    def _name(self) -> str:
        return self.config.output_column or f"{self.config.text_column}_ids"

    def configure(self, specs):
        require_dictionary(specs[1])
        text_column(specs[0], self.config.text_column)
        if specs[0] is None:
            return [None]
        c = self.config
        n = self._name()
        cols = ([_ids_spec(n + "_input", c.length, c.pad), _ids_spec(n + "_target", c.length, c.pad)]
                if c.teacher_forcing else [_ids_spec(n, c.length, c.pad)])
        return [specs[0].with_columns(cols)]

    def execute(self, inputs, ctx):
        from deepnodes.dl.text import END, PAD, index_sequences

        table, vocab = inputs
        c = self.config
        data = texts(table, c.text_column)
        if c.teacher_forcing:
            L = None if c.length is None else c.length + 1
            ids, enc, n_trunc = index_sequences(vocab, data, True, True, L, c.pad, c.padding, c.truncating)
            if c.pad:
                inp, tgt = ids[:, :-1].copy(), ids[:, 1:].copy()
                inp[inp == END] = PAD  # the decoder never reads the end token
            else:
                inp = [a[:-1].copy() for a in ids]
                tgt = [a[1:].copy() for a in ids]
                for a in inp:
                    a[a == END] = PAD
            out = _put(_put(table, self._name() + "_input", inp, vocab, c.pad), self._name() + "_target", tgt, vocab,
                       c.pad)
        else:
            ids, enc, n_trunc = index_sequences(vocab, data, c.add_start, c.add_end, c.length, c.pad, c.padding,
                                                c.truncating)
            out = _put(table, self._name(), ids, vocab, c.pad)
        warn_unknown(ctx, enc, c.text_column)
        if n_trunc:
            ctx.warn(f"{n_trunc} of {len(data)} rows were longer than {c.length} ids (option 'length') and were cut")
        if enc.total == 0 and len(data):
            ctx.warn(f"column '{c.text_column}' holds only empty text")
        return [out]


@node("deepnodes.text.SlidingWindows", name="Sliding Windows", category="Text/Sequences")
class SlidingWindows(Node):
    """Cuts the rows of a text column, joined by a separator into one stream, into fixed-length windows of
    token ids with next-token targets: 'shifted' gives a target per step (the window moved by one; train an
    LSTM with return_sequences), 'next' gives the single id after each window."""

    inputs = [In("table", "table", "rows with a text column"), _DICT_IN]
    outputs = [Out("table", "table", "window (tensor of ids) and target (ids or one id) per row")]

    class Config(NodeConfig):
        text_column: str = Field("text", description="the column holding the text")
        length: int = Field(100, ge=1, le=limits.LENGTH, description="ids per window")
        step: int = Field(100, ge=1, le=limits.LENGTH,
            description="ids between the starts of two windows (= length: no overlap)")
        targets: Literal["shifted", "next"] = Field("shifted", description="a target per step, or only the next id")
        separator: str = Field("\n", description="joins the rows into one text stream (character level)")

    def configure(self, specs):
        require_dictionary(specs[1])
        text_column(specs[0], self.config.text_column)
        c = self.config
        tgt = (ColumnSpec("target", "token_sequence", "int32", (None,)) if c.targets == "shifted"
               else ColumnSpec("target", "integer", "int32"))
        return [TableSpec((ColumnSpec("window", "tensor", "int32", (c.length,)), tgt))]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        from deepnodes.dl.text import TextError, sliding_windows, stream_ids
        from deepnodes.table.arrow import mark, tensor_array

        table, vocab = inputs
        c = self.config
        data = texts(table, c.text_column)
        if not any(data):
            raise ColumnError(f"column '{c.text_column}' (option 'text_column') holds no text; there is nothing "
                              "to cut into windows")
        ids, enc = stream_ids(vocab, data, c.separator)
        warn_unknown(ctx, enc, c.text_column)
        try:
            x, y = sliding_windows(ids, c.length, c.step, c.targets)
        except TextError as e:
            raise NodeError(str(e)) from None
        if c.targets == "shifted":  # a token sequence: the Learner's 'tokens' converter gives per-step targets
            target = pa.FixedSizeListArray.from_arrays(pa.array(y.reshape(-1), pa.int32()), c.length).cast(
                pa.list_(pa.int32()))
            field = mark(pa.field("target", target.type), "token_sequence")
        else:
            target = pa.array(y, pa.int32())
            field = pa.field("target", pa.int32())
        window = tensor_array(x)
        return [pa.Table.from_arrays([window, target], schema=pa.schema([pa.field("window", window.type), field]))]


@node("deepnodes.text.IndexSequenceToText", name="Index Sequence to Text", category="Text/Sequences")
class IndexSequenceToText(Node):
    """Turns a column of token ids (tensor or token sequence) back into text with a dictionary: padding and
    start tokens are dropped and the text ends at the first end token."""

    inputs = [In("table", "table", "rows with an id column"), _DICT_IN]
    outputs = [Out("table", "table", "the input table with the text column added")]

    class Config(NodeConfig):
        ids_column: str = Field("ids", description="the column of token ids")
        output_column: str = Field("text", description="name of the text column to write")
        stop_at_end: bool = Field(True, description="end the text at the first end token </s>")

    def configure(self, specs):
        require_dictionary(specs[1])
        if specs[0] is None:
            return [None]
        col = specs[0].column(self.config.ids_column, option="ids_column")
        if col.kind not in ("tensor", "token_sequence") or not col.dtype.startswith(("int", "uint")):
            raise ColumnError(f"column '{col.name}' (option 'ids_column') holds {col.kind} values; it must hold "
                              "integer token ids")
        return [specs[0].with_columns([ColumnSpec(self.config.output_column, "string", "string")])]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        from deepnodes.table.arrow import get_column, kind_of, set_column, to_numpy

        table, vocab = inputs
        col = get_column(table, self.config.ids_column, "ids_column")
        field = table.schema.field(self.config.ids_column)
        rows = to_numpy(col) if kind_of(field) == "tensor" else col.to_pylist()
        out = [vocab.decode(r if r is not None else [], self.config.stop_at_end) for r in rows]
        return [set_column(table, self.config.output_column, pa.array(out, pa.string()))]
