"""Row nodes: Row Filter, Row Sampling and Partitioning."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, Out, limits, node

Operator = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is missing", "is not missing", "contains",
                   "matches"]


@node("deepnodes.data.RowFilter", name="Row Filter", category="Data/Rows")
class RowFilter(Node):
    """Keeps (or drops) the rows where a column compares true against a value. Missing values never match."""
    inputs = [In("table", "table", "the rows to filter")]
    outputs = [Out("table", "table", "the rows that pass")]

    class Config(NodeConfig):
        column: str = Field("", description="the column to test")
        operator: Operator = Field("==", description="the comparison; 'in' / 'not in' take a comma-separated list, "
                                                     "'matches' a regular expression for the whole value")
        value: str = Field("", description="the value to compare with (parsed as the column's type)")
        mode: Literal["include", "exclude"] = Field("include", description="keep the matching rows, or drop them")

    def configure(self, specs):
        from deepnodes.table.ops import _parse_value, filter_rows_spec

        spec = filter_rows_spec(specs[0], self.config.column, self.config.operator)
        if self.config.operator not in ("is missing", "is not missing", "in", "not in", "contains", "matches"):
            _parse_value(self.config.value, spec.column(self.config.column).kind)
        return [spec]

    def execute(self, inputs, ctx):
        from deepnodes.table.ops import filter_rows

        c = self.config
        out = filter_rows(inputs[0], c.column, c.operator, c.value, keep=c.mode == "include")
        ctx.log(f"{out.num_rows} of {inputs[0].num_rows} rows pass")
        return [out]


class _ChooseRows(NodeConfig):
    method: Literal["random", "stratified", "top"] = Field(
        "random", description="random rows, random rows keeping each class's share (stratified), or the first rows (top)")
    fraction: float = Field(0.7, gt=0, le=1, description="share of rows for the first output (used when count is empty)")
    count: int | None = Field(None, ge=0, le=limits.ROWS,
        description="number of rows for the first output (overrides fraction)")
    column: str = Field("", description="the class column for stratified choice")
    seed: int = Field(0, le=limits.SEED, description="random seed")


def _configure_choice(node, specs) -> None:
    from deepnodes.table.ops import require_column

    c = node.config
    if c.method == "stratified":
        require_column(specs[0], c.column, "column", ("category", "string", "integer", "boolean"))
    elif c.column:
        specs[0].column(c.column, option="column")


@node("deepnodes.data.RowSampling", name="Row Sampling", category="Data/Rows")
class RowSampling(Node):
    """Takes a sample of rows: random, stratified by a class column, or the first rows; rows keep their order."""
    inputs = [In("table", "table", "the rows to sample")]
    outputs = [Out("table", "table", "the sample")]

    class Config(_ChooseRows):
        fraction: float = Field(0.1, gt=0, le=1, description="share of rows to keep (used when count is empty)")
        count: int | None = Field(None, ge=0, le=limits.ROWS, description="number of rows to keep (overrides fraction)")

    def configure(self, specs):
        _configure_choice(self, specs)
        return [specs[0]]

    def execute(self, inputs, ctx):
        from deepnodes.table.ops import require_rows, sample_rows

        c = self.config
        require_rows(inputs[0])
        return [sample_rows(inputs[0], c.fraction, c.count, c.method, c.seed, c.column or None)]


@node("deepnodes.data.Partitioning", name="Partitioning", category="Data/Rows")
class Partitioning(Node):
    """Splits rows in two (e.g. training and test): random, stratified by a class column, or from the top."""
    inputs = [In("table", "table", "the rows to split")]
    outputs = [Out("first", "table", "the chosen share of rows (e.g. training)"),
               Out("second", "table", "the remaining rows (e.g. test)")]
    Config = _ChooseRows

    def configure(self, specs):
        _configure_choice(self, specs)
        return [specs[0], specs[0]]

    def execute(self, inputs, ctx):
        from deepnodes.table.ops import partition, require_rows

        c = self.config
        require_rows(inputs[0])
        first, second = partition(inputs[0], c.fraction, c.count, c.method, c.seed, c.column or None)
        ctx.log(f"{first.num_rows} rows in the first partition, {second.num_rows} in the second")
        return [first, second]
