"""Service Input and Service Output: where a served workflow takes a request's rows and what it returns."""
from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, node
from deepnodes.service.schema import ServiceColumn, check_names, table_spec

INPUT_TYPE = "deepnodes.service.ServiceInput"
OUTPUT_TYPE = "deepnodes.service.ServiceOutput"


@node(INPUT_TYPE, name="Service Input", category="Deployment")
class ServiceInput(Node):
    """The rows of a service request, as a table of declared columns (number, string, category, image,
    tensor of a shape). In a normal run it gives the example row, so everything downstream can be tried
    in the editor; `deepnodes serve-workflow` gives each request's rows instead."""

    outputs = [Out("table", "table", "the request's rows (the example row outside a service)")]

    class Config(NodeConfig):
        columns: list[ServiceColumn] = Field(default_factory=list, max_length=1000,
                                             description="the columns each request row carries")
        example: dict[str, Any] = Field(default_factory=dict, description="an example row: a value per column "
                                        "(images as base64 PNG text); shown in the service's documentation")
        max_rows: int = Field(256, ge=1, le=100_000, description="most rows one request may send")

        @field_validator("columns")
        @classmethod
        def _unique(cls, v):
            check_names(v)
            return v

    def configure(self, specs):
        if not self.config.columns:
            raise NodeError("option 'columns': declare at least one column the requests carry")
        self._example()
        return [table_spec(self.config.columns)]

    def _example(self):
        from deepnodes.service.decode import RequestError, decode_rows

        try:
            return decode_rows(self.config.columns, [self.config.example], 1)
        except RequestError as e:
            raise NodeError(f"option 'example': {str(e).replace('row 0, ', '').replace('row 0 ', 'the example ')}") \
                from None

    def execute(self, inputs, ctx):
        return [self._example()]


@node(OUTPUT_TYPE, name="Service Output", category="Deployment")
class ServiceOutput(Node):
    """The table a service returns for a request: the chosen columns of its input, one JSON row per row."""

    inputs = [In("table", "table", "the rows to return")]
    outputs = [Out("table", "table", "the returned columns")]

    class Config(NodeConfig):
        columns: list[str] = Field(default_factory=list, max_length=1000,
                                   description="the columns to return; empty = all")

    def configure(self, specs):
        from deepnodes.table.spec import TableSpec

        spec = specs[0]
        if spec is None:
            return [None]
        for name in self.config.columns:
            spec.column(name, option="columns")
        if not self.config.columns:
            return [spec]
        return [TableSpec(tuple(spec.column(n) for n in self.config.columns))]

    def execute(self, inputs, ctx):
        from deepnodes.table.arrow import get_column

        table = inputs[0]
        for name in self.config.columns:
            get_column(table, name, option="columns")
        return [table.select(self.config.columns) if self.config.columns else table]
