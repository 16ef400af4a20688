"""Python Script: tables in, a table out, computed by the user's code (pandas or pyarrow)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import Cancelled, In, Node, NodeConfig, NodeError, Out, node

DEFAULT_SCRIPT = """\
# input_table: the first input as a pandas DataFrame (input_table_2, input_table_3: the others, or None)
# assign the result, a pandas DataFrame or a pyarrow Table, to output_table
output_table = input_table.copy()
"""


def log_to(ctx):
    return lambda line, level="info": ctx.log(line, level)


class CodeConfig(NodeConfig):
    """Options every Python node has."""

    deterministic: bool = Field(False, description="the code gives the same result for the same inputs and "
                                "options (no clock, no unseeded randomness, no outside files), so its result may "
                                "be cached and reused; off: the node runs again on every run")


class CodeNode(Node):
    """A node that runs the user's code: a program, so its result is reused only when the user says the code
    is deterministic (option 'deterministic')."""

    @property
    def cacheable(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.config, "deterministic", False))


@node("deepnodes.python.PythonScript", name="Python Script", category="Python")
class PythonScript(CodeNode):
    """Runs your Python code on up to three tables and outputs the table it assigns to `output_table`.

    The code sees `input_table`, `input_table_2`, `input_table_3` (None where a port is not connected) and
    `input_tables` (the connected ones), as pandas DataFrames or pyarrow Tables ('table_api'); tensor cells
    are numpy arrays. `pd`, `pa` and `np` are imported. With no input connected it is a source node.
    What the code prints goes to the node's log; an error names the line of the script."""

    inputs = [In("table", "table", "first table (input_table)", optional=True),
              In("table_2", "table", "second table (input_table_2)", optional=True),
              In("table_3", "table", "third table (input_table_3)", optional=True)]
    outputs = [Out("table", "table", "the table the script assigns to output_table")]

    class Config(CodeConfig):
        script: str = Field(DEFAULT_SCRIPT, description="the Python code; it assigns output_table",
                            json_schema_extra={"format": "python"})
        table_api: Literal["pandas", "pyarrow"] = Field("pandas", description="how the script sees tables")

    def configure(self, specs):
        from deepnodes.scripting import ScriptError, compile_script

        try:
            compile_script(self.config.script)
        except ScriptError as e:
            raise NodeError(str(e)) from None
        return [None]  # the output's columns are known once the script ran

    def execute(self, inputs, ctx):
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        from deepnodes.scripting import ScriptError, run_script, table_for_script, table_from_script

        api = self.config.table_api
        tables = [table_for_script(t, api) for t in inputs]
        ns = {"pd": pd, "pa": pa, "np": np, "input_table": tables[0], "input_table_2": tables[1],
              "input_table_3": tables[2], "input_tables": [t for t in tables if t is not None]}
        try:
            ns = run_script(self.config.script, ns, log_to(ctx), passthrough=(Cancelled,))
            if "output_table" not in ns:
                raise ScriptError("the script must assign its result (a pandas DataFrame or pyarrow Table) "
                                  "to 'output_table'")
            return [table_from_script(ns["output_table"])]
        except ScriptError as e:
            raise NodeError(str(e)) from None
