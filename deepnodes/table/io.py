"""The `table` port's handler: tables saved as Arrow IPC files, specs and summaries for reports."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from .arrow import spec_of
from .spec import TableSpec


class _TableIO:
    def save(self, table: pa.Table, path: str) -> str:
        p = Path(path + ".arrow")
        with pa.OSFile(str(p), "wb") as f, ipc.new_file(f, table.schema) as w:
            w.write_table(table)
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
