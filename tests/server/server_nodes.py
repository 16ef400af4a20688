"""Small real nodes for the server tests: a table source, a filter with a column option, and a trainer that
emits metrics, honours Stop and keeps its last result (the way the Learner does)."""
from __future__ import annotations

import time

from pydantic import Field

from deepnodes.core import Cancelled, In, Node, NodeConfig, NodeError, Out, node
from deepnodes.table.spec import ColumnSpec, TableSpec


@node("test.server.Numbers", name="Numbers", category="Test/Server")
class Numbers(Node):
    """A table of `rows` rows: x (number), label (category) and a small 1×8×8 image tensor."""
    outputs = [Out("table", "table", "the numbers")]

    class Config(NodeConfig):
        rows: int = Field(10, ge=1, le=100000, description="number of rows")
        kind: str = Field("ramp", pattern="^(ramp|square)$", description="ramp or square")

    def configure(self, specs):
        return [TableSpec((ColumnSpec("x", "number", "double"), ColumnSpec("label", "category", "string"),
                           ColumnSpec("img", "tensor", "float", (1, 8, 8))))]

    def execute(self, inputs, ctx):
        import numpy as np
        import pyarrow as pa

        from deepnodes.table.arrow import category_array, tensor_array

        x = np.arange(self.config.rows, dtype=np.float64)
        if self.config.kind == "square":
            x = x * x
        imgs = np.stack([np.full((1, 8, 8), i % 7, dtype=np.float32) for i in range(self.config.rows)])
        imgs[:, 0, :4, :4] = 9
        labels = category_array(["even" if i % 2 == 0 else "odd" for i in range(self.config.rows)])
        return [pa.table({"x": x, "label": labels, "img": tensor_array(imgs)})]


@node("test.server.Filter", name="Filter", category="Test/Server")
class Filter(Node):
    """Keeps the rows whose `column` is at least `minimum`."""
    inputs = [In("table", "table", "rows to filter")]
    outputs = [Out("table", "table", "kept rows")]

    class Config(NodeConfig):
        column: str = Field("x", description="the number column to compare")
        minimum: float = Field(0.0, description="the smallest value kept")

    def configure(self, specs):
        specs[0].column(self.config.column, option="column")
        return [specs[0]]

    def execute(self, inputs, ctx):
        import pyarrow.compute as pc

        t = inputs[0]
        return [t.filter(pc.greater_equal(t.column(self.config.column), self.config.minimum))]


@node("test.server.Trainer", name="Trainer", category="Test/Server")
class Trainer(Node):
    """Emits per-batch and per-epoch metrics; Stop ends it early and keeps its result."""
    inputs = [In("table", "table", "anything")]
    outputs = [Out("history", "table", "one row per epoch")]

    class Config(NodeConfig):
        epochs: int = Field(3, ge=1, description="epochs")
        batches: int = Field(100, ge=1, description="batches per epoch")
        sleep: float = Field(0.0, ge=0, description="seconds per batch")
        fail: bool = Field(False, description="fail in the first epoch")

    def configure(self, specs):
        return [TableSpec((ColumnSpec("epoch", "integer", "int64"), ColumnSpec("loss", "number", "double")))]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        rows = []
        step = 0
        for e in range(self.config.epochs):
            for b in range(self.config.batches):
                ctx.check_cancelled()
                if self.config.fail:
                    raise NodeError("option 'fail' is set, so the trainer fails")
                step += 1
                loss = 1.0 / step
                ctx.metrics({"loss": loss, "accuracy": 1 - loss}, step=step, epoch=e, kind="batch")
                ctx.progress((e * self.config.batches + b + 1) / (self.config.epochs * self.config.batches),
                             f"epoch {e + 1}")
                if self.config.sleep:
                    time.sleep(self.config.sleep)
                if ctx.stop_requested:
                    break
            rows.append((e, 1.0 / step))
            ctx.metrics({"loss": 1.0 / step, "val_loss": 1.2 / step}, step=step, epoch=e, kind="epoch")
            if ctx.stop_requested:
                break
        ctx.result("epochs", len(rows))
        return [pa.table({"epoch": [r[0] for r in rows], "loss": [r[1] for r in rows]})]


@node("test.server.Scores", name="Scores", category="Test/Server")
class Scores(Node):
    """A fixed confusion matrix and per-class table, as a scorer outputs them."""
    inputs = [In("table", "table", "anything")]
    outputs = [Out("confusion", "table", "confusion matrix"), Out("classes", "table", "per class")]

    def configure(self, specs):
        return [None, None]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        ctx.result("accuracy", 0.8)
        cm = pa.table({"actual": ["a", "b"], "a": [8, 2], "b": [2, 8]})
        pc = pa.table({"class": ["a", "b"], "precision": [0.8, 0.8], "recall": [0.8, 0.8]})
        return [cm, pc]


_ = Cancelled
