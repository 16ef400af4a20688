"""Network Executor: batch inference over a table (the work is in `deepnodes.dl.infer`)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, limits, node
from deepnodes.dl.options import InputColumns


@node("deepnodes.dl.NetworkExecutor", name="Network Executor", category="Deep Learning/Train and Execute")
class NetworkExecutor(Node):
    """Applies a network to every row of a table, in batches. Appends the chosen network outputs and any
    intermediate layer's tensor (feature extraction) as a tensor column or one number column per unit;
    for classifier outputs also the predicted class (names carried from training) and its probability.
    Backend auto runs the network with ONNX Runtime when it exports cleanly (cached), else with torch."""

    inputs = [In("network", "network", "the (trained) network"),
              In("table", "table", "the rows to run the network on")]
    outputs = [Out("table", "table", "the input table with the network's outputs appended")]
    device_dependent = True  # CUDA gives other floating-point results than the CPU: part of the cache key

    class Config(NodeConfig):
        inputs: list[InputColumns] = Field(default_factory=list, description="one entry per network input: "
                                           "column(s) and converter; empty = the column named like the input, "
                                           "or the table's only tensor column")
        outputs: list[str] = Field(default_factory=list, description="network outputs to append; empty = all "
                                   "(none when 'layers' is set)")
        layers: list[str] = Field(default_factory=list, description="intermediate layers whose output to append "
                                  "(feature extraction), e.g. 'flatten_1' or 'lstm_1:1'")
        output_format: Literal["tensor", "columns"] = Field("tensor", description="each output as one tensor "
                                                            "column, or one number column per unit")
        append_class: bool = Field(True, description="for classifier outputs, also append the predicted class "
                                   "and its probability")
        prediction_column: str = Field("prediction", min_length=1, description="name of the predicted class column")
        probability_column: str = Field("probability", min_length=1, description="name of the class probability column")
        keep_columns: bool = Field(True, description="keep the input table's columns (else only the new ones)")
        backend: Literal["auto", "torch", "onnxruntime"] = Field("auto", description="auto: ONNX Runtime when the "
                                                                 "network exports cleanly, torch otherwise")
        batch_size: int = Field(256, ge=1, le=limits.BATCH, description="rows per inference batch (memory grows with "
                                "it; larger batches are hardly faster on the CPU)")
        device: Literal["auto", "cpu", "cuda"] = Field("auto", description="torch backend: where to run")

    def _plan(self, net_spec, table_spec):
        from deepnodes.dl.convert import bind, check_binding

        ins = bind(table_spec, net_spec.inputs, self.config.inputs, role="input", option="inputs")
        for b, t, _ in ins:
            check_binding(table_spec, b, t)
        names = [t.name for t in net_spec.outputs]
        outs = self.config.outputs if (self.config.outputs or self.config.layers) else names
        for o in outs:
            if o not in names:
                raise NodeError(f"option 'outputs': the network has no output '{o}'; its outputs are "
                                f"{', '.join(repr(n) for n in names)}")
        if net_spec.layers:
            have = [layer.name for layer in net_spec.layers]
            for layer in self.config.layers:
                if layer.split(":")[0] not in have:
                    raise NodeError(f"option 'layers': the network has no layer '{layer.split(':')[0]}'; its layers "
                                    f"are {', '.join(repr(n) for n in have)}")
        return ins, [names.index(o) for o in outs]

    def configure(self, specs):
        from deepnodes.table.spec import ColumnSpec, TableSpec

        net, table = specs
        if net is None or table is None:
            return [None]
        _, idx = self._plan(net, table)
        c = self.config
        new = []
        tensors = [net.outputs[i] for i in idx]
        for layer in c.layers:
            name, _, k = layer.partition(":")
            entry = next((e for e in net.layers if e.name == name), None)
            t = entry.outputs[int(k or 0)] if entry is not None and int(k or 0) < len(entry.outputs) else None
            tensors.append(t)
        for j, t in enumerate(tensors):
            col = self._column_name(net, j, idx)
            if t is None:
                continue  # an opaque network: the shape is known after running
            shape = t.shape
            units = 1
            for d in shape:
                units = units * d if (units is not None and d is not None) else None
            if c.output_format == "columns" or len(shape) == 0:
                if units == 1 or len(shape) == 0:
                    new.append(ColumnSpec(col, "number", "float"))
                elif units is not None:
                    new += [ColumnSpec(f"{col}_{u}", "number", "float") for u in range(units)]
            else:
                new.append(ColumnSpec(col, "tensor", "float", tuple(shape)))
            if c.append_class and j < len(idx) and len(shape) == 1 and (shape[0] or 0) >= 1:
                act = self._activation(net, idx[j])
                if act in ("softmax", "sigmoid"):
                    new.append(ColumnSpec(c.prediction_column, "category", "string"))
                    new.append(ColumnSpec(c.probability_column, "number", "float"))
        base = table if c.keep_columns else TableSpec(())
        return [base.with_columns(new)]

    @staticmethod
    def _activation(net_spec, i):
        from deepnodes.dl.convert import output_activation
        from deepnodes.dl.network import Network

        return output_activation(Network(net_spec), i)

    def _column_name(self, net_spec, j: int, idx: list[int]) -> str:
        if j < len(idx):
            return net_spec.outputs[idx[j]].name
        return self.config.layers[j - len(idx)].replace(":", "_")

    def execute(self, inputs, ctx):
        from deepnodes.dl.convert import convert
        from deepnodes.dl.infer import InferenceError, predict
        from deepnodes.dl.predictions import predictions_table
        from deepnodes.table.arrow import require_rows, spec_of

        network, table = inputs
        require_rows(table)  # an empty partition: one sentence, not a reshape error from the batching
        c = self.config
        ins, idx = self._plan(network.spec, spec_of(table))
        classes = network.metadata.get("input_classes") or {}
        xs = [convert(table, b, t, check=False, class_names=classes.get(t.name)) for b, t, _ in ins]
        names_out = [network.spec.outputs[i].name for i in idx]
        try:
            arrays, used = predict(network, xs, outputs=names_out, layers=c.layers, batch_size=c.batch_size,
                                   backend=c.backend, device=c.device if c.device != "auto" else ctx.device,
                                   check_cancelled=ctx.check_cancelled,
                                   progress=lambda f: ctx.progress(f, f"{int(f * table.num_rows)} rows"),
                                   log=ctx.log)
        except InferenceError as e:
            raise NodeError(str(e)) from None
        ctx.log(f"ran with {used}")
        ctx.result("backend", used)
        col_names = [self._column_name(network.spec, j, idx) for j in range(len(arrays))]
        base = table if c.keep_columns else table.select([])
        out = predictions_table(base, network, arrays, col_names, idx, output_format=c.output_format,
                                append_class=c.append_class, prediction_column=c.prediction_column,
                                probability_column=c.probability_column, warn=ctx.warn)
        return [out]
