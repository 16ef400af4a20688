"""Dictionary nodes: character and word dictionaries and a subword tokenizer, built from a text column."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, Out, limits, node
from deepnodes.core.model import ModelSpec

from ._common import DICTIONARY_TYPE, TOKENS_SPEC, text_column, texts

_OUTPUTS = [Out("dictionary", "model", "the dictionary (ids 0-3: <pad>, <s>, </s>, <unk>)"),
            Out("tokens", "table", "one row per token: index, token, count, special")]


class _DictionaryNode(Node):
    inputs = [In("table", "table", "the text to learn the dictionary from")]
    outputs = _OUTPUTS
    level = "character"

    def configure(self, specs):
        text_column(specs[0], self.config.text_column)
        return [ModelSpec(DICTIONARY_TYPE, {"level": self.level}), TOKENS_SPEC]

    def _build(self, data: list):
        raise NotImplementedError

    def execute(self, inputs, ctx):
        from deepnodes.core import NodeError
        from deepnodes.dl.text import TextError

        data = texts(inputs[0], self.config.text_column)
        try:
            vocab = self._build(data)
        except TextError as e:
            raise NodeError(f"column '{self.config.text_column}': {e}") from None
        ctx.result("dictionary_size", vocab.size)
        return [vocab, vocab.to_table()]


@node("deepnodes.text.CharacterDictionary", name="Character Dictionary", category="Text/Dictionaries")
class CharacterDictionary(_DictionaryNode):
    """Builds a character vocabulary from a text column: characters seen at least `min_count` times, most
    frequent first, after the special tokens <pad> (0), <s> (1), </s> (2) and <unk> (3)."""

    class Config(NodeConfig):
        text_column: str = Field("text", description="the column holding the text")
        min_count: int = Field(1, ge=1, le=limits.ROWS, description="characters seen fewer times map to <unk>")
        max_size: int | None = Field(None, ge=5, le=limits.VOCAB,
            description="largest dictionary size, special tokens included "
                                                             "(empty = no limit)")
        lowercase: bool = Field(False, description="lower-case the text first")
        always_include: str = Field("\n", description="characters always in the dictionary (the line break "
                                                      "that joins rows into one stream)")

    def _build(self, data):
        from deepnodes.dl.text import build_character_vocabulary

        c = self.config
        return build_character_vocabulary(data, c.min_count, c.max_size, c.lowercase, c.always_include)


@node("deepnodes.text.WordDictionary", name="Word Dictionary", category="Text/Dictionaries")
class WordDictionary(_DictionaryNode):
    """Builds a word vocabulary (words and punctuation marks) from a text column, most frequent first, after
    the special tokens <pad>, <s>, </s> and <unk>."""

    level = "word"

    class Config(NodeConfig):
        text_column: str = Field("text", description="the column holding the text")
        min_count: int = Field(1, ge=1, le=limits.ROWS, description="words seen fewer times map to <unk>")
        max_size: int | None = Field(None, ge=5, le=limits.VOCAB,
            description="largest dictionary size, special tokens included "
                                                             "(empty = no limit)")
        lowercase: bool = Field(True, description="lower-case the text first")

    def _build(self, data):
        from deepnodes.dl.text import build_word_vocabulary

        c = self.config
        return build_word_vocabulary(data, c.min_count, c.max_size, c.lowercase)


@node("deepnodes.text.SubwordTokenizer", name="Subword Tokenizer", category="Text/Dictionaries")
class SubwordTokenizer(_DictionaryNode):
    """Learns a subword vocabulary (sentencepiece BPE or unigram) from a text column, offline and
    reproducibly; ids 0-3 are <pad>, <s>, </s>, <unk>."""

    level = "subword"

    class Config(NodeConfig):
        text_column: str = Field("text", description="the column holding the text")
        vocab_size: int = Field(2000, ge=8, le=limits.VOCAB,
            description="number of subword units, special tokens included")
        model_type: Literal["bpe", "unigram"] = Field("bpe", description="sentencepiece algorithm")
        character_coverage: float = Field(1.0, gt=0.9, le=1.0, description="share of characters covered; the "
                                                                           "rarest rest map to <unk>")
        lowercase: bool = Field(False, description="lower-case the text first")

    def _build(self, data):
        from deepnodes.dl.text import train_subword_vocabulary

        c = self.config
        return train_subword_vocabulary(data, c.vocab_size, c.model_type, c.character_coverage, c.lowercase)
