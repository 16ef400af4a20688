"""Small fake nodes for engine tests: no data layer, no torch."""
from __future__ import annotations

import threading
import time

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, node
from deepnodes.core.ports import PortType, register_port_type

register_port_type(PortType("number", "A number (tests only)", "tests.core.fake_nodes:NUMBER_IO"))

CALLS: dict[str, int] = {}
LOCK = threading.Lock()


class NumSpec:
    port_type = "number"

    def to_json(self):
        return {"port_type": "number"}


def count(label: str) -> None:
    with LOCK:
        CALLS[label] = CALLS.get(label, 0) + 1


@node("test.Const", name="Const", category="Test")
class Const(Node):
    """Emits a number."""
    outputs = [Out("out", "number")]

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
    inputs = [In("a", "number"), In("b", "number", optional=True)]
    outputs = [Out("out", "number")]

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


class _NumberIO:
    """Port handler for the fake 'number' port: a JSON file."""

    def save(self, obj, path):
        import json
        from pathlib import Path

        p = Path(path + ".json")
        p.write_text(json.dumps(obj))
        return p.name

    def load(self, path):
        import json
        from pathlib import Path

        return json.loads(Path(path).read_text())

    def spec_of(self, obj):
        return NumSpec()

    def summary(self, obj):
        return {"value": obj}


NUMBER_IO = _NumberIO()
