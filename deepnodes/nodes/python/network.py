"""Python Network Creator, Learner and Executor: networks written, trained and applied in code."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from deepnodes.core import Cancelled, In, NodeError, Out, limits, node
from deepnodes.dl.convert import OutputActivation, record_output_activation

from .script import CodeConfig, CodeNode, log_to

CREATOR_SCRIPT = """\
# assign a torch.nn.Module to output_network; its forward takes the declared inputs (batch first)
# and returns the declared outputs. torch, nn and np are imported.
output_network = nn.Sequential(
    nn.Linear(4, 16), nn.ReLU(),
    nn.Linear(16, 3),
)
"""

LEARNER_SCRIPT = """\
# train input_network (a torch module) on input_table; report with context.metrics(...),
# stop early when context.stop_requested; call context.check_cancelled() between batches.
x = column_tensor(input_table, "features", torch.float32)
y = column_tensor(input_table, "label", torch.int64)
opt = torch.optim.Adam(input_network.parameters(), lr=0.01)
loss_fn = nn.CrossEntropyLoss()
epochs = 20
for epoch in range(1, epochs + 1):
    perm = torch.randperm(len(x))
    for i in range(0, len(x), 32):
        context.check_cancelled()
        idx = perm[i:i + 32]
        opt.zero_grad()
        loss = loss_fn(input_network(x[idx]), y[idx])
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (input_network(x).argmax(1) == y).float().mean().item()
    context.metrics({"loss": loss.item(), "accuracy": acc}, epoch=epoch, kind="epoch")
    context.progress(epoch / epochs, f"epoch {epoch}")
    if context.stop_requested:
        break
"""

EXECUTOR_SCRIPT = """\
# apply input_network to input_table and assign the result to output_table
x = column_tensor(input_table, "features", torch.float32)
with torch.no_grad():
    probs = torch.softmax(input_network(x), dim=1).numpy()
output_table = input_table.copy()
output_table["prediction"] = probs.argmax(1)
"""


class TensorDecl(BaseModel):
    """A declared network input or output."""

    name: str = Field(description="tensor name")
    shape: list[limits.Dim | None] = Field(description="shape without the batch dimension; null for a variable size")
    dtype: Literal["float32", "float64", "int64", "int32", "bool"] = Field("float32", description="element type")

    @field_validator("shape")
    @classmethod
    def _positive(cls, v):
        if any(d is not None and d < 1 for d in v):
            raise ValueError("every dimension must be at least 1 (or null for a variable size)")
        return v


def _specs(decls: list[TensorDecl], option: str):
    from deepnodes.dl.spec import TensorSpec

    if not decls:
        raise NodeError(f"option '{option}' declares no tensor; declare at least one")
    names = [d.name for d in decls]
    if len(set(names)) != len(names) or not all(names):
        raise NodeError(f"option '{option}' needs distinct, non-empty tensor names; it has {names}")
    return [TensorSpec(d.name, tuple(d.shape), d.dtype) for d in decls]


def _network_in(spec, what: str = "network"):
    if spec is not None and getattr(spec, "port_type", None) != "network":
        raise NodeError(f"the '{what}' input needs a network; it got a {getattr(spec, 'port_type', 'different')} port")


def _run(fn, *args, **kw):
    from deepnodes.scripting import ScriptError

    try:
        return fn(*args, passthrough=(Cancelled,), **kw)
    except ScriptError as e:
        raise NodeError(str(e)) from None


@node("deepnodes.python.PythonNetworkCreator", name="Python Network Creator", category="Python/Deep Learning")
class PythonNetworkCreator(CodeNode):
    """Creates a network from Python code: the code assigns a torch.nn.Module to `output_network`.

    Declare the network's inputs and outputs (names, shapes without the batch, dtypes): downstream nodes
    see them at configure time, and the module is checked on a dummy batch when it is created.

    A Keras model built and trained on TensorFlow comes in as a SavedModel: `output_network =
    deepnodes.dl.tf_script.savedmodel_from_tensorflow(code, folder)` runs `code` (Keras on its TensorFlow backend)
    in TensorFlow's own child process; the code writes `model.export(savedmodel_dir)`, and the SavedModel is
    read for inference (docs/tensorflow_export.md)."""

    outputs = [Out("network", "network", "the network")]

    class Config(CodeConfig):
        script: str = Field(CREATOR_SCRIPT, description="Python code that assigns output_network",
                            json_schema_extra={"format": "python"})
        inputs: list[TensorDecl] = Field(default_factory=lambda: [TensorDecl(name="features", shape=[4])],
                                         description="the network's inputs in forward() order")
        outputs: list[TensorDecl] = Field(default_factory=lambda: [TensorDecl(name="output", shape=[3])],
                                          description="the network's outputs in the order forward() returns them")
        seed: int = Field(0, le=limits.SEED, description="random seed for the initial weights")
        output_activation: OutputActivation = Field("recorded", description="what ends the module's outputs: "
                                                    "linear = logits, softmax / sigmoid = probabilities; recorded "
                                                    "= unknown (a Network Learner then asks for targets.from_logits)")

    def configure(self, specs):
        from deepnodes.dl.scripted import python_spec

        return [python_spec(_specs(self.config.inputs, "inputs"), _specs(self.config.outputs, "outputs"))]

    def execute(self, inputs, ctx):
        from deepnodes.dl.scripted import create_network

        c = self.config
        net = _run(create_network, c.script, _specs(c.inputs, "inputs"), _specs(c.outputs, "outputs"), c.seed,
                   log_to(ctx))
        record_output_activation(net, c.output_activation)
        return [net]


@node("deepnodes.python.PythonNetworkLearner", name="Python Network Learner", category="Python/Deep Learning")
class PythonNetworkLearner(CodeNode):
    """Trains a network with your own Python training loop.

    The code sees `input_network` (a torch module, a copy of the input), `input_spec`, `input_table`,
    `validation_table`, `column_tensor(table, name, dtype)` and `context`: `context.metrics(values,
    epoch=..., kind='epoch'|'batch')` feeds the same learning monitor as the Network Learner, `context.progress`,
    `context.log`, `context.stop_requested` (the Stop button: finish and keep the model) and
    `context.check_cancelled()`. It trains `input_network` in place or assigns `output_network`."""

    inputs = [In("network", "network", "the network to train"), In("table", "table", "training rows"),
              In("validation", "table", "validation rows (validation_table)", optional=True)]
    outputs = [Out("network", "network", "the trained network"),
               Out("history", "table", "one row per epoch reported with kind='epoch'")]

    class Config(CodeConfig):
        script: str = Field(LEARNER_SCRIPT, description="Python code that trains input_network",
                            json_schema_extra={"format": "python"})
        table_api: Literal["pandas", "pyarrow"] = Field("pandas", description="how the script sees tables")
        seed: int = Field(0, le=limits.SEED, description="random seed set before the script runs (shuffling, dropout)")

    def configure(self, specs):
        _network_in(specs[0])
        if specs[0] is not None and specs[0].layers and all(not layer.trainable for layer in specs[0].layers):
            raise NodeError("every layer of the input network is frozen, so training cannot change it; "
                            "unfreeze some layers first")
        return [specs[0], None]

    def execute(self, inputs, ctx):
        from deepnodes.dl.scripted import ScriptTrainingContext, train_network

        c = self.config
        context = ScriptTrainingContext(ctx)
        net, history = _run(train_network, c.script, inputs[0], inputs[1], inputs[2], context, c.table_api, c.seed,
                            log_to(ctx))
        if context.history:
            for k, v in context.history[-1].items():
                if k != "epoch":
                    ctx.result(k, v)
        return [net, history]


@node("deepnodes.python.PythonNetworkExecutor", name="Python Network Executor", category="Python/Deep Learning")
class PythonNetworkExecutor(CodeNode):
    """Applies a network with your own Python code: it sees `input_network` (eval mode), `input_spec` and
    `input_table`, and assigns the result to `output_table`."""

    inputs = [In("network", "network", "the network"), In("table", "table", "the rows")]
    outputs = [Out("table", "table", "the table the script assigns to output_table")]

    class Config(CodeConfig):
        script: str = Field(EXECUTOR_SCRIPT, description="Python code that assigns output_table",
                            json_schema_extra={"format": "python"})
        table_api: Literal["pandas", "pyarrow"] = Field("pandas", description="how the script sees tables")

    def configure(self, specs):
        _network_in(specs[0])
        return [None]

    def execute(self, inputs, ctx):
        from deepnodes.dl.scripted import execute_network

        c = self.config
        return [_run(execute_network, c.script, inputs[0], inputs[1], c.table_api, log_to(ctx))]
