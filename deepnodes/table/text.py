"""Reading plain text into a table: one document per row, or one row per line or per paragraph."""
from __future__ import annotations

import glob
import re
from pathlib import Path

import pyarrow as pa

from .spec import ColumnError

SPLITS = ("document", "line", "paragraph")


def split_text(text: str, split: str = "document", skip_empty: bool = True, strip: bool = True) -> list[str]:
    """`text` as a list of documents, lines (at line breaks) or paragraphs (at blank lines)."""
    if split not in SPLITS:
        raise ColumnError(f"option 'split' must be one of {', '.join(SPLITS)}; it is '{split}'")
    if split == "document":
        parts = [text]
    elif split == "line":
        parts = text.splitlines()
    else:
        parts = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
        parts = [re.sub(r"\s*\n\s*", " ", p) for p in parts]  # a paragraph's lines joined by spaces
    if strip:
        parts = [p.strip() for p in parts]
    if skip_empty:
        parts = [p for p in parts if p.strip()]
    return parts


def text_files(path: str) -> list[Path]:
    """The files `path` names: one file, every .txt file in a folder, or a glob pattern."""
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(x for x in p.iterdir() if x.is_file() and x.suffix.lower() in (".txt", ".text", ".md", ""))
    else:
        files = sorted(Path(x) for x in glob.glob(str(p)) if Path(x).is_file())
    if not files:
        raise ColumnError(f"no text file found at '{path}' (option 'path')")
    return files


def read_text(path: str, split: str = "document", encoding: str = "utf-8", skip_empty: bool = True,
              strip: bool = True) -> pa.Table:
    """A table with the columns `source` (file name), `index` (position in the file) and `text`."""
    sources, idx, texts = [], [], []
    for f in text_files(path):
        try:
            content = f.read_text(encoding=encoding)
        except UnicodeDecodeError:
            raise ColumnError(f"'{f.name}' is not {encoding} text (option 'encoding')") from None
        except LookupError:
            raise ColumnError(f"unknown text encoding '{encoding}' (option 'encoding')") from None
        parts = split_text(content, split, skip_empty, strip)
        sources += [f.name] * len(parts)
        idx += list(range(len(parts)))
        texts += parts
    if not texts:
        raise ColumnError(f"the text at '{path}' is empty; there is nothing to read")
    return pa.table({"source": pa.array(sources, pa.string()), "index": pa.array(idx, pa.int32()),
                     "text": pa.array(texts, pa.string())})
