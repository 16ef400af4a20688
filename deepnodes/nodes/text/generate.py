"""Text Generator (a trained character language model + seed texts) and Sequence-to-Sequence Decoder
(a trained encoder-decoder translating a column of sentences)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, limits, node
from deepnodes.table import ColumnError, ColumnSpec

from ._common import ATTENTION_SPEC, network_dictionary, require_dictionary, text_column, texts, warn_unknown


def _check_network(spec, what: str):
    if spec is None:
        return
    if not getattr(spec, "layers", None):
        raise NodeError(f"the {what} has no layer graph (it was written in code or imported), so its recurrent "
                        "states cannot be carried from step to step; build it from layer nodes")


@node("deepnodes.text.TextGenerator", name="Text Generator", category="Text/Generation")
class TextGenerator(Node):
    """Generates text with a trained language model: for each seed text it runs the seed through the network
    once, then samples `length` tokens one at a time (temperature, optional top-k), carrying the LSTM states
    forward instead of re-running the prefix. Seeded: the same seed gives the same text."""

    inputs = [In("network", "network", "a trained language model (ids -> next-id probabilities)"),
              In("dictionary", "model", "the dictionary the network was trained with (empty: the one the network "
                 "carries)", optional=True),
              In("table", "table", "one seed text per row")]
    outputs = [Out("table", "table", "the input table with the generated text added")]

    class Config(NodeConfig):
        text_column: str = Field("text", description="the column with the seed texts")
        output_column: str = Field("generated", description="name of the generated-text column")
        length: int = Field(200, ge=1, le=100000, description="how many tokens (characters) to generate per row")
        temperature: float = Field(0.5, ge=0, le=10, description="sampling temperature: 0 = always the most "
                                                                 "likely, 1 = the model's distribution")
        top_k: int | None = Field(None, ge=1, le=limits.VOCAB,
            description="sample only among the k most likely tokens (empty = all)")
        top_p: float | None = Field(None, gt=0, le=1, description="nucleus sampling: only among the most likely "
                                    "tokens whose probabilities add up to top_p (empty = all)")
        include_seed: bool = Field(False, description="start the output with the seed text")
        seed: int = Field(0, le=limits.SEED, description="random seed of the sampling")

    def configure(self, specs):
        _check_network(specs[0], "network")
        require_dictionary(specs[1])
        text_column(specs[2], self.config.text_column)
        if specs[2] is None:
            return [None]
        return [specs[2].with_columns([ColumnSpec(self.config.output_column, "string", "string")])]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        from deepnodes.dl.decode import generate
        from deepnodes.dl.graph_runner import DecodeError
        from deepnodes.table.arrow import set_column

        net, vocab, table = inputs
        vocab = network_dictionary(vocab, net)
        c = self.config
        seeds = texts(table, c.text_column)
        if not seeds:
            raise ColumnError(f"the table has no rows; column '{c.text_column}' (option 'text_column') needs seed texts")
        try:
            out, enc = generate(net, vocab, seeds, c.length, c.temperature, c.top_k, c.seed, top_p=c.top_p)
        except DecodeError as e:
            raise NodeError(str(e)) from None
        warn_unknown(ctx, enc, c.text_column)
        if c.include_seed:
            out = [(s or "") + o for s, o in zip(seeds, out)]
        return [set_column(table, c.output_column, pa.array(out, pa.string()))]


def encode_sources(src_vocab, sentences, add_start: bool, add_end: bool):
    """Source sentences as the decoder's id arrays (<s> / </s> added as when training) and their Encoded."""
    import numpy as np

    from deepnodes.dl.text import END, START

    enc = src_vocab.encode(sentences)
    head = np.array([START] if add_start else [], np.int64)
    tail = np.array([END] if add_end else [], np.int64)
    return [np.concatenate([head, a.astype(np.int64), tail]) for a in enc.ids], enc


@node("deepnodes.text.SequenceDecoder", name="Sequence-to-Sequence Decoder", category="Text/Generation")
class SequenceDecoder(Node):
    """Translates a column with a trained encoder-decoder (with or without attention): the encoder runs once
    per sentence, then the decoder is run one token at a time from <s>, by greedy decoding or beam search
    (width, length normalisation), until </s> or the maximum length. The source column is text (encoded
    with the source dictionary) or token ids made by Text to Index Sequence."""

    inputs = [In("network", "network", "a trained encoder-decoder (inputs: source ids and decoder ids)"),
              In("target_dictionary", "model", "the dictionary of the decoder's outputs (empty: the one the network "
                 "carries)", optional=True),
              In("table", "table", "the sentences to translate"),
              In("source_dictionary", "model", "the dictionary of the source text (needed when the source column "
                                               "is text)", optional=True)]
    outputs = [Out("table", "table", "the input table with the translations added"),
               Out("attention", "table", "source x target attention of one sentence (option 'attention_row'): a "
                   "row per map, per layer and head for a Transformer, one for Luong/Bahdanau attention")]

    class Config(NodeConfig):
        source_column: str = Field("english", description="the source sentences (text) or their ids")
        output_column: str = Field("translation", description="name of the translation column")
        method: Literal["greedy", "beam"] = Field("beam", description="greedy decoding or beam search")
        beam_width: int = Field(4, ge=1, le=64, description="hypotheses kept per sentence by beam search")
        length_penalty: float = Field(1.0, ge=0, le=5, description="beam score = log-probability / length ** this "
                                                                   "(0 = none, 1 = per token)")
        max_length: int = Field(50, ge=1, le=1000, description="stop after this many tokens without </s>")
        add_start: bool = Field(False, description="text source: put <s> first (as when training)")
        add_end: bool = Field(True, description="text source: put </s> last (as when training)")
        padding: Literal["post", "pre"] = Field("post", description="where the source is padded (as when training)")
        decoder_input: str = Field("", description="the network input fed with the decoder's tokens (empty = "
                                                   "found from the graph)")
        batch_size: int = Field(64, ge=1, le=limits.BATCH, description="sentences decoded together")
        attention_row: int | None = Field(0, ge=0, le=limits.ROWS, description="the row whose attention maps the "
                                          "'attention' output shows (empty = none)")

    def configure(self, specs):
        _check_network(specs[0], "encoder-decoder network")
        if specs[0] is not None and len(specs[0].inputs) != 2:
            have = ", ".join(repr(t.name) for t in specs[0].inputs)
            raise NodeError(f"the network has {len(specs[0].inputs)} input(s) ({have}); an encoder-decoder needs two, "
                            "the source ids and the decoder's ids, with the encoder's states (return_state) feeding "
                            "the decoder's initial state or an attention layer")
        require_dictionary(specs[1], "target_dictionary")
        require_dictionary(specs[3], "source_dictionary")
        if specs[2] is None:
            return [None, ATTENTION_SPEC]
        col = specs[2].column(self.config.source_column, option="source_column")
        if col.kind not in ("string", "category", "tensor", "token_sequence"):
            raise ColumnError(f"column '{col.name}' (option 'source_column') holds {col.kind} values; it must hold "
                              "text or token ids")
        return [specs[2].with_columns([ColumnSpec(self.config.output_column, "string", "string")]), ATTENTION_SPEC]

    def execute(self, inputs, ctx):
        import numpy as np
        import pyarrow as pa

        from deepnodes.dl.decode import translate
        from deepnodes.dl.graph_runner import DecodeError, GraphRunner
        from deepnodes.dl.text import PAD
        from deepnodes.table.arrow import get_column, kind_of, set_column, to_numpy

        net, tgt_vocab, table, src_vocab = inputs
        tgt_vocab = network_dictionary(tgt_vocab, net, "target_dictionary")
        c = self.config
        get_column(table, c.source_column, "source_column")
        kind = kind_of(table.schema.field(c.source_column))
        try:
            runner = GraphRunner(net, c.decoder_input or None)  # which input is the decoder's, once
        except DecodeError as e:
            raise NodeError(str(e)) from None
        if kind in ("string", "category"):
            source = runner.static_inputs[0] if len(runner.static_inputs) == 1 else None
            src_vocab = network_dictionary(src_vocab, net, "source_dictionary", "source", source)
            src, enc = encode_sources(src_vocab, texts(table, c.source_column, "source_column"), c.add_start,
                                      c.add_end)
            warn_unknown(ctx, enc, c.source_column)
        else:
            col = table.column(c.source_column)
            rows = to_numpy(col) if kind == "tensor" else col.to_pylist()
            src = []
            for r in rows:
                a = np.asarray(r if r is not None else [], dtype=np.int64)
                src.append(a[a != PAD])  # padding is removed, then redone per batch (option 'padding')
        try:
            out = translate(runner, src, tgt_vocab, c.method, c.beam_width, c.max_length, c.length_penalty, c.batch_size,
                            c.padding, c.decoder_input or None, lambda f: ctx.progress(f, "decoding"),
                            ctx.check_cancelled)
        except DecodeError as e:
            raise NodeError(str(e)) from None
        return [set_column(table, c.output_column, pa.array(out, pa.string())), self._attention(runner, src, src_vocab,
                                                                                             tgt_vocab)]

    def _attention(self, runner, src, src_vocab, tgt_vocab):
        from deepnodes.dl.attention_maps import sentence_table, to_table

        c = self.config
        if c.attention_row is None:
            return to_table([], [], [], -1)
        if c.attention_row >= len(src):
            raise NodeError(f"option 'attention_row' is {c.attention_row} but the table has {len(src)} rows")
        return sentence_table(runner, src[c.attention_row], c.attention_row, tgt_vocab,
                              src_vocab if src_vocab is not None else None, c.method, c.beam_width, c.max_length,
                              c.length_penalty)
