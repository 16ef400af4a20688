"""Column nodes: Column Filter, Columns to Tensor."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, Out, node


@node("deepnodes.data.ColumnFilter", name="Column Filter", category="Data/Columns")
class ColumnFilter(Node):
    """Keeps or removes columns, by name and by kind; the `row_id` column stays unless excluded by name."""
    inputs = [In("table", "table", "the table")]
    outputs = [Out("table", "table", "the table with the chosen columns")]

    class Config(NodeConfig):
        columns: list[str] = Field([], description="column names to include (or exclude)")
        kinds: list[str] = Field([], description="also include (or exclude) every column of these kinds, e.g. tensor")
        mode: Literal["include", "exclude"] = Field("include", description="keep the chosen columns, or remove them")

    def configure(self, specs):
        from deepnodes.table.ops import filter_columns_spec
        from deepnodes.table.spec import KINDS

        for k in self.config.kinds:
            if k not in KINDS:
                raise ValueError(f"option 'kinds' names the kind '{k}'; the kinds are {', '.join(KINDS)}")
        if not self.config.columns and not self.config.kinds:
            raise ValueError("options 'columns' and 'kinds' select no column; choose at least one")
        return [filter_columns_spec(specs[0], self.config.columns, self.config.mode, self.config.kinds)]

    def execute(self, inputs, ctx):
        from deepnodes.table.ops import filter_columns

        return [filter_columns(inputs[0], self.config.columns, self.config.mode, self.config.kinds)]


@node("deepnodes.data.ColumnsToTensor", name="Columns to Tensor", category="Data/Columns")
class ColumnsToTensor(Node):
    """Packs number columns into one (len(columns),) tensor column, the input a Dense network expects."""
    inputs = [In("table", "table", "the table")]
    outputs = [Out("table", "table", "the table with the tensor column")]

    class Config(NodeConfig):
        columns: list[str] = Field([], description="the number columns, in order")
        output_column: str = Field("features", description="name of the tensor column")
        dtype: Literal["float32", "float64"] = Field("float32", description="element type of the tensor")
        remove_source: bool = Field(False, description="remove the packed columns")

    def configure(self, specs):
        from deepnodes.table.ops import columns_to_tensor_spec

        c = self.config
        return [columns_to_tensor_spec(specs[0], c.columns, c.output_column, c.remove_source, c.dtype)]

    def execute(self, inputs, ctx):
        from deepnodes.table.ops import columns_to_tensor

        c = self.config
        return [columns_to_tensor(inputs[0], c.columns, c.output_column, c.remove_source, c.dtype)]
