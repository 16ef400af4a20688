"""Text Reader: text files into a table, one document, line or paragraph per row."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import Node, NodeConfig, NodeError, Out, node
from deepnodes.table import ColumnSpec, TableSpec


@node("deepnodes.text.TextReader", name="Text Reader", category="Text/IO")
class TextReader(Node):
    """Reads a text file (or every .txt file in a folder, or a glob pattern) into a table with the columns
    source, index and text: one row per document, per line, or per paragraph (blank-line separated)."""

    outputs = [Out("table", "table", "source (file name), index (position in the file), text")]

    class Config(NodeConfig):
        path: str = Field("", description="a text file, a folder of .txt files, or a glob pattern")
        split: Literal["document", "line", "paragraph"] = Field(
            "line", description="one row per document (whole file), per line, or per paragraph")
        encoding: str = Field("utf-8", description="the files' text encoding")
        skip_empty: bool = Field(True, description="leave out empty lines or paragraphs")
        strip: bool = Field(True, description="remove white space at both ends of each row's text")

    def configure(self, specs):
        if not self.config.path:
            raise NodeError("option 'path' is empty; give a text file, a folder or a glob pattern")
        return [TableSpec((ColumnSpec("source", "string", "string"), ColumnSpec("index", "integer", "int32"),
                           ColumnSpec("text", "string", "string")))]

    def signature_extra(self) -> str:
        """Every file the reader reads (the same list `read_text` reads: one file, a folder's files, a glob)."""
        from deepnodes.core.cache_key import files_signature
        from deepnodes.table.text import text_files

        try:
            return files_signature(text_files(self.config.path))
        except Exception:  # noqa: BLE001 - no file matches: execute says so; the key says "nothing there"
            return f"{self.config.path}:missing"

    def execute(self, inputs, ctx):
        from deepnodes.table.text import read_text

        c = self.config
        return [read_text(c.path, c.split, c.encoding, c.skip_empty, c.strip)]
