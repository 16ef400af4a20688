"""The data layer: Arrow tables, column kinds and zero-copy conversion (see `arrow`), and the pure-Python
`TableSpec` that nodes reason about at configure time (see `spec`).

`deepnodes.table.arrow` imports pyarrow; this package itself does not, so configuring stays light.
"""
from .spec import KINDS, ColumnError, ColumnSpec, TableSpec

__all__ = ["KINDS", "ColumnError", "ColumnSpec", "TableSpec"]
