"""Small fake nodes for engine tests: no data layer, no torch."""
from __future__ import annotations

import threading
import time

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, node

CALLS: dict[str, int] = {}
LOCK = threading.Lock()


class NumSpec:
    port_type = "table"

    def to_json(self):
        return {"port_type": "table"}


def count(label: str) -> None:
    with LOCK:
        CALLS[label] = CALLS.get(label, 0) + 1


@node("test.Const", name="Const", category="Test")
class Const(Node):
    """Emits a number."""
    outputs = [Out("out")]

    class Config(NodeConfig):
        value: float = Field(1.0, description="the number")
        sleep: float = 0.0

    def configure(self, specs):
        return [NumSpec()]

    def execute(self, inputs, ctx):
        count(self.label)
        time.sleep(self.config.sleep)
        return [self.config.value]


@node("test.Add", name="Add", category="Test")
class Add(Node):
    """Adds its inputs and a constant."""
    inputs = [In("a"), In("b", optional=True)]
    outputs = [Out("out")]

    class Config(NodeConfig):
        plus: float = 0.0
        sleep: float = 0.0
        fail: bool = False

    def configure(self, specs):
        return [NumSpec()]

    def execute(self, inputs, ctx):
        count(self.label)
        if self.config.fail:
            raise NodeError("it was told to fail")
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < self.config.sleep:
            ctx.check_cancelled()
            time.sleep(0.01)
        ctx.result("sum", inputs[0] + (inputs[1] or 0) + self.config.plus)
        return [inputs[0] + (inputs[1] or 0) + self.config.plus]
