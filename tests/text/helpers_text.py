"""Run one node directly (configure, then execute) and keep what it logged."""
from __future__ import annotations

import threading

from deepnodes.core import ExecutionContext
from deepnodes.core.registry import get


class Ctx(ExecutionContext):
    def __init__(self):
        self.events: list[dict] = []
        super().__init__("node", self.events.append, threading.Event())

    @property
    def warnings(self) -> list[str]:
        return [e["line"] for e in self.events if e.get("type") == "log" and e.get("level") == "warning"]


def spec_of(obj):
    if obj is None:
        return None
    if hasattr(obj, "spec") and callable(obj.spec):
        return obj.spec()
    if hasattr(obj, "spec"):
        return obj.spec
    from deepnodes.table.arrow import spec_of as table_spec

    return table_spec(obj)


def run_node(type_id: str, config: dict, inputs: list, ctx: Ctx | None = None):
    """(outputs, specs, ctx) of one node run on `inputs`; the configured specs are checked against the outputs."""
    node = get(type_id)(config)
    specs = node.configure([spec_of(x) for x in inputs])
    ctx = ctx or Ctx()
    outs = node.execute(inputs, ctx)
    return outs, specs, ctx
