"""Reader nodes: built-in datasets, CSV and Parquet files, folders of images."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, limits, node
from deepnodes.core.ui import enum_source, ui


def file_signature(path: str) -> str:
    """A file's size and modification time, so the cache notices when the file changes."""
    try:
        st = os.stat(path)
    except OSError:
        return f"{path}:missing"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def folder_signature(path: str) -> str:
    p = Path(path)
    if not p.is_dir():
        return f"{path}:missing"
    files = sorted(f for f in p.rglob("*") if f.is_file())
    return ";".join(file_signature(str(f)) for f in files)


@enum_source("datasets")
def _dataset_names() -> list[str]:
    from deepnodes.datasets import dataset_names

    return dataset_names()


@enum_source("dataset_splits", depends_on="dataset")
def _dataset_splits() -> dict[str, list[str]]:
    from deepnodes.datasets import dataset_names, get_dataset

    return {n: [*get_dataset(n).splits, "all"] for n in dataset_names()}


@node("deepnodes.data.DatasetReader", name="Dataset Reader", category="Data/IO")
class DatasetReader(Node):
    """Reads a built-in dataset (mnist, fashion-mnist, digits, lfw-faces, ...) as a table.

    Image datasets give a (1, H, W) uint8 tensor column `image`, an integer `label`, a category column
    `class_name` and, where the dataset has train/test files, a `split` column. Files are found in a
    local folder, an installed system package, the user cache, or downloaded and md5-checked.
    """
    outputs = [Out("table", "table", "the dataset's rows")]

    class Config(NodeConfig):
        dataset: str = Field("digits", description="which dataset: digits (ships with scikit-learn, no download), "
                                                    "fashion-mnist, mnist, lfw-faces (and any other registered dataset)",
                             json_schema_extra=ui(enum_source="datasets"))
        split: str = Field("all", description="train, test, or all (both, with a 'split' column)",
                           json_schema_extra=ui(enum_source="dataset_splits"))
        local_folder: str = Field("", description="a folder with the dataset's files (works offline); empty = the "
                                                  "system package, the cache or a download")
        limit: int | None = Field(None, ge=1, le=limits.ROWS,
            description="read at most this many rows (empty = every row)")
        base_url: str = Field("", description="download address(es), comma-separated, replacing the built-in mirrors")

    def configure(self, specs):
        from deepnodes.datasets import check_split, get_dataset

        info = get_dataset(self.config.dataset)
        check_split(info, self.config.split)
        return [info.table_spec()]

    def signature_extra(self) -> str:
        return folder_signature(self.config.local_folder) if self.config.local_folder else ""

    def execute(self, inputs, ctx):
        from deepnodes.datasets import load_dataset

        c = self.config
        ctx.progress(None, f"reading {c.dataset}")

        def progress(done: int, total: int | None) -> None:
            ctx.check_cancelled()
            ctx.progress(done / total if total else None, f"downloading {c.dataset}: {done / 1e6:.1f} MB")

        return [load_dataset(c.dataset, c.split, c.local_folder or None, c.limit, c.base_url, progress=progress)]


class _CSVOptions(NodeConfig):
    path: str = Field("", description="the CSV file")
    delimiter: str = Field(",", min_length=1, max_length=1, description="the field separator")
    has_header: bool = Field(True, description="the first line holds the column names")
    skip_rows: int = Field(0, ge=0, le=limits.ROWS, description="lines to skip before the header")
    quote_char: str = Field('"', max_length=1, description="the quote character (empty = no quoting)")
    limit: int | None = Field(None, ge=1, le=limits.ROWS, description="read at most this many rows (empty = every row)")


@node("deepnodes.data.CSVReader", name="CSV Reader", category="Data/IO")
class CSVReader(Node):
    """Reads a CSV file; column types are inferred. A `row_id` column is added."""
    outputs = [Out("table", "table", "the file's rows")]
    Config = _CSVOptions

    def _kw(self):
        c = self.config
        return dict(delimiter=c.delimiter, has_header=c.has_header, skip_rows=c.skip_rows,
                    quote_char=c.quote_char or None)

    def configure(self, specs):
        from deepnodes.table.arrow import spec_of
        from deepnodes.table.files import csv_schema

        return [spec_of(csv_schema(self.config.path, **self._kw()))]

    def signature_extra(self) -> str:
        return file_signature(self.config.path)

    def execute(self, inputs, ctx):
        from deepnodes.table.files import read_csv

        return [read_csv(self.config.path, limit=self.config.limit, **self._kw())]


@node("deepnodes.data.ParquetReader", name="Parquet Reader", category="Data/IO")
class ParquetReader(Node):
    """Reads a Parquet file; column kinds, categories and tensor columns written by DeepNodes come back as they were."""
    outputs = [Out("table", "table", "the file's rows")]

    class Config(NodeConfig):
        path: str = Field("", description="the Parquet file")
        limit: int | None = Field(None, ge=1, le=limits.ROWS,
            description="read at most this many rows (empty = every row)")

    def configure(self, specs):
        from deepnodes.table.arrow import spec_of
        from deepnodes.table.files import parquet_schema

        return [spec_of(parquet_schema(self.config.path))]

    def signature_extra(self) -> str:
        return file_signature(self.config.path)

    def execute(self, inputs, ctx):
        from deepnodes.table.files import read_parquet

        return [read_parquet(self.config.path, limit=self.config.limit)]


@node("deepnodes.data.ImageFolderReader", name="Image Folder Reader", category="Data/IO")
class ImageFolderReader(Node):
    """Reads a folder with one subfolder per class: encoded images (column `image`, kind image), the class
    index `label` (subfolders in sorted order), `class_name` and the file `path`. Convert with Image to Tensor."""
    outputs = [Out("table", "table", "one row per image file")]

    class Config(NodeConfig):
        path: str = Field("", description="the folder holding one subfolder per class")
        extensions: list[str] = Field([".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"],
                                      description="file extensions read as images")
        limit: int | None = Field(None, ge=1, le=limits.ROWS, description="read at most this many images (empty = all)")

    def configure(self, specs):
        from deepnodes.table.images import image_folder_spec

        if not self.config.extensions:
            raise NodeError("option 'extensions' is empty; list the image file extensions to read")
        return [image_folder_spec(self.config.path)]

    def signature_extra(self) -> str:
        return folder_signature(self.config.path)

    def execute(self, inputs, ctx):
        from deepnodes.table.images import read_image_folder

        return [read_image_folder(self.config.path, self.config.extensions, self.config.limit)]


@node("deepnodes.data.TableWriter", name="Table Writer", category="Data/IO")
class TableWriter(Node):
    """Writes a table as CSV or Parquet (tensor and image columns need Parquet)."""
    inputs = [In("table", "table", "the table to write")]
    outputs = []
    cacheable = False  # writing is a side effect: every run writes the file again

    class Config(NodeConfig):
        path: str = Field("", description="the output file")
        format: Literal["auto", "csv", "parquet"] = Field("auto", description="file format; auto = from the extension")
        include_row_id: bool = Field(False, description="also write the row_id column")
        overwrite: bool = Field(True, description="replace an existing file")

    def _format(self) -> str:
        if self.config.format != "auto":
            return self.config.format
        return "parquet" if Path(self.config.path).suffix.lower() in (".parquet", ".pq") else "csv"

    def configure(self, specs):
        from deepnodes.table.ops import a_kind

        c = self.config
        if not c.path:
            raise NodeError("no output file is set; set option 'path'")
        parent = Path(c.path).expanduser().parent
        if not parent.is_dir():
            raise NodeError(f"the folder '{parent}' for the output file (option 'path') does not exist")
        spec = specs[0]
        if self._format() == "csv" and spec is not None:
            for col in spec.columns:
                if col.kind in ("tensor", "image", "token_sequence", "other") and (c.include_row_id or col.name != "row_id"):
                    raise NodeError(f"column '{col.name}' is {a_kind(col.kind)} column, which a CSV file cannot hold; "
                                    "set option 'format' to parquet or filter the column out")
        return []

    def execute(self, inputs, ctx):
        from deepnodes.table.files import write_table

        c = self.config
        if not c.overwrite and Path(c.path).exists():
            raise NodeError(f"the file '{c.path}' exists and option 'overwrite' is off")
        p = write_table(inputs[0], Path(c.path).expanduser(), self._format(), c.include_row_id)
        ctx.log(f"wrote {inputs[0].num_rows} rows to {p}")
        ctx.result("rows_written", inputs[0].num_rows)
        return []
