"""Scorers for text: translations (corpus BLEU, chrF, character error rate) and language models (bits per
character, perplexity)."""
from __future__ import annotations

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, limits, node
from deepnodes.table import ColumnSpec, TableSpec

from ._common import network_dictionary, require_dictionary, text_column, texts


@node("deepnodes.text.TranslationScorer", name="Translation Scorer", category="Text/Scoring")
class TranslationScorer(Node):
    """Compares translations (or any generated text) with references: corpus BLEU and chrF as sacrebleu
    computes them (0-100, higher is better) and the character error rate (edit distance / reference
    characters, lower is better)."""

    inputs = [In("table", "table", "a table with a reference and a translation column")]
    outputs = [Out("scores", "table", "bleu, chrf, cer and the number of rows, one row")]

    class Config(NodeConfig):
        reference_column: str = Field("german", description="the column with the reference texts")
        prediction_column: str = Field("translation", description="the column with the translations to score")
        tokenize: str = Field("13a", description="sacrebleu's BLEU tokenizer ('13a', 'intl', 'char', 'none')")

    _SPEC = TableSpec((ColumnSpec("bleu", "number", "double"), ColumnSpec("chrf", "number", "double"),
                       ColumnSpec("cer", "number", "double"), ColumnSpec("rows", "integer", "int64")))

    def configure(self, specs):
        text_column(specs[0], self.config.reference_column, "reference_column")
        text_column(specs[0], self.config.prediction_column, "prediction_column")
        if self.config.tokenize not in ("13a", "intl", "char", "none", "zh", "ja-mecab", "flores101", "flores200"):
            raise NodeError(f"option 'tokenize' must be one of '13a', 'intl', 'char', 'none'; it is "
                            f"'{self.config.tokenize}'")
        return [self._SPEC]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        from deepnodes.dl.text import TextError
        from deepnodes.dl.text_metrics import character_error_rate, corpus_bleu, corpus_chrf

        c = self.config
        refs = texts(inputs[0], c.reference_column, "reference_column")
        hyps = texts(inputs[0], c.prediction_column, "prediction_column")
        try:
            bleu, chrf = corpus_bleu(hyps, refs, c.tokenize), corpus_chrf(hyps, refs)
            cer = character_error_rate(hyps, refs)
        except TextError as e:
            raise NodeError(str(e)) from None
        ctx.result("bleu", round(bleu, 3))
        ctx.result("chrf", round(chrf, 3))
        ctx.result("cer", round(cer, 4))
        return [pa.table({"bleu": [bleu], "chrf": [chrf], "cer": [cer], "rows": pa.array([len(refs)], pa.int64())})]


@node("deepnodes.text.LanguageModelScorer", name="Language Model Scorer", category="Text/Scoring")
class LanguageModelScorer(Node):
    """Scores a language model on a text column: the rows, joined by the separator into one stream, are
    predicted token by token and the mean log-loss is given as bits per token (bits per character for a
    character model) and perplexity. A recurrent model predicts each token from everything before it (the
    LSTM states carried across chunks); a Transformer, which sees a fixed window, from sliding windows (each
    token from at least window - stride tokens before it)."""

    inputs = [In("network", "network", "a trained language model with a prediction per step"),
              In("dictionary", "model", "the dictionary the network was trained with (empty: the one the network "
                 "carries)", optional=True),
              In("table", "table", "the held-out text")]
    outputs = [Out("scores", "table", "bits_per_token, perplexity, tokens, unknown, one row")]

    class Config(NodeConfig):
        text_column: str = Field("text", description="the column with the text")
        separator: str = Field("\n", description="joins the rows into one stream (as Sliding Windows does)")
        chunk: int = Field(100, ge=1, le=limits.LENGTH,
            description="steps run at once (the states are carried between chunks)")
        streams: int = Field(32, ge=1, le=limits.BATCH, description="parallel pieces of the text scored side by side")
        stride: int = Field(0, ge=0, le=limits.LENGTH,
            description="for a network with a fixed window (a Transformer): its windows start this many tokens "
                        "apart and each scores only its last `stride` tokens, so each token has at least window - "
                        "stride tokens before it (0: half the window; the window: separate windows)")

    _SPEC = TableSpec((ColumnSpec("bits_per_token", "number", "double"), ColumnSpec("perplexity", "number", "double"),
                       ColumnSpec("tokens", "integer", "int64"), ColumnSpec("unknown", "integer", "int64")))

    def configure(self, specs):
        if specs[0] is not None and not specs[0].layers:
            raise NodeError("the network has no layer graph, so its states cannot be carried across chunks; build "
                            "it from layer nodes")
        require_dictionary(specs[1])
        text_column(specs[2], self.config.text_column)
        return [self._SPEC]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        from deepnodes.dl.decode import stream_log_loss
        from deepnodes.dl.graph_runner import DecodeError, GraphRunner, check_vocabulary
        from deepnodes.dl.text import stream_ids
        from deepnodes.dl.text_metrics import bits_per_token, perplexity

        net, vocab, table = inputs
        vocab = network_dictionary(vocab, net)
        c = self.config
        data = texts(table, c.text_column)
        if not any(data):
            raise NodeError(f"column '{c.text_column}' (option 'text_column') holds no text to score")
        ids, enc = stream_ids(vocab, data, c.separator)
        if enc.unknown:
            ctx.warn(f"{enc.unknown} of {enc.total} tokens are not in the dictionary and count as <unk>")
        try:
            runner = GraphRunner(net)
            check_vocabulary(runner, vocab.size)
            if runner.window and c.stride > runner.window:
                raise NodeError(f"option 'stride' is {c.stride}, but the network sees windows of {runner.window} "
                                f"tokens; use at most {runner.window}")
            nll, n = stream_log_loss(runner, ids, c.chunk, c.streams, lambda f: ctx.progress(f, "scoring"), c.stride)
        except DecodeError as e:
            raise NodeError(str(e)) from None
        bpt, ppl = bits_per_token(nll), perplexity(nll)
        ctx.result("bits_per_character" if vocab.level == "character" else "bits_per_token", round(bpt, 4))
        ctx.result("perplexity", round(ppl, 3))
        return [pa.table({"bits_per_token": [bpt], "perplexity": [ppl], "tokens": pa.array([n], pa.int64()),
                          "unknown": pa.array([enc.unknown], pa.int64())})]
