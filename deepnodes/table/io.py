"""The `table` port's handler: tables saved as Arrow IPC files, specs and summaries for reports.

A saved table is reopened memory-mapped, so a file this handler has written is never written again:
`save` writes a temporary sibling and renames it into place (a rename leaves a mapped file's data alone;
writing into it in place would truncate the pages under the reader, who then dies with SIGBUS).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from .arrow import spec_of
from .spec import TableSpec


class _TableIO:
    def save(self, table: pa.Table, path: str) -> str:
        p = Path(path + ".arrow")
        tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")
        try:
            with pa.OSFile(str(tmp), "wb") as f, ipc.new_file(f, table.schema) as w:
                w.write_table(table)
            os.replace(tmp, p)
        finally:
            if tmp.exists():
                tmp.unlink()
        return p.name

    def load(self, path: str) -> pa.Table:
        # memory-mapped: reopening a saved result costs no copy
        with pa.memory_map(path, "r") as src:
            return ipc.open_file(src).read_all()

    def spec_of(self, table: pa.Table) -> TableSpec:
        return spec_of(table)

    def summary(self, table: pa.Table) -> dict:
        return {"rows": table.num_rows, "columns": [c.describe() for c in spec_of(table).columns]}


TABLE_IO = _TableIO()
