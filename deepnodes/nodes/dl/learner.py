"""Network Learner: trains a network on a table (the work is in `deepnodes.dl.train`)."""
from __future__ import annotations

from pydantic import ConfigDict, Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, node
from deepnodes.dl.options import DistributedOptions, InputColumns, TargetColumns, TrainingOptions
from deepnodes.nodes.dl.learner_ui import LEARNER_UI

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds", "samples_per_s")


@node("deepnodes.dl.NetworkLearner", name="Network Learner", category="Deep Learning/Train and Execute")
class NetworkLearner(Node):
    """Trains a network on a table: one entry in 'inputs' per network input (its column(s) and converter),
    one in 'targets' per trained output (column, converter and loss). Emits per-batch and per-epoch
    metrics (loss, accuracy, val_loss, val_accuracy, lr, samples/s) for the learning monitor; Stop ends
    training and keeps the current model; cancelling keeps the model of the last complete epoch.
    The input network is not changed; the trained copy carries its history, seed and class names."""

    inputs = [In("network", "network", "the network to train"),
              In("table", "table", "the training rows"),
              In("validation", "table", "rows for val_loss / val_accuracy (optional)", optional=True)]
    outputs = [Out("network", "network", "the trained network"),
               Out("history", "table", "one row per epoch: loss, accuracy, validation metrics, learning rate")]
    device_dependent = True  # CUDA gives other floating-point results than the CPU: part of the cache key

    class Config(NodeConfig, TrainingOptions):
        model_config = ConfigDict(json_schema_extra=LEARNER_UI)  # the dialog's tabs and pickers
        inputs: list[InputColumns] = Field(default_factory=list, description="one entry per network input: "
                                           "column(s) and converter; empty = the column named like the input, "
                                           "or the table's only tensor column")
        targets: list[TargetColumns] = Field(default_factory=list, description="one entry per trained network "
                                             "output: target column(s), converter and loss")
        distributed: DistributedOptions = Field(default_factory=DistributedOptions, description="train here, or "
                                                "data-parallel on Ray Train (backend, workers, use_gpu, address)")

    def _bindings(self, net_spec, table_spec):
        from deepnodes.dl.convert import bind, check_binding

        ins = bind(table_spec, net_spec.inputs, self.config.inputs, role="input", option="inputs")
        outs = bind(table_spec, net_spec.outputs, self.config.targets, role="target", option="targets",
                    key="network_output")
        for b in ins + outs:
            if b is not None:
                check_binding(table_spec, b[0], b[1])
        return ins, outs

    def configure(self, specs):
        from deepnodes.table.spec import ColumnSpec, TableSpec

        if self.config.distributed.backend == "ray":  # before anything runs: the extra and the address
            from deepnodes.core.ray_runtime import check_address, require_ray

            require_ray("distributed.backend")
            check_address(self.config.distributed.address, "distributed.address")
        net, table, val = specs
        if net is None or table is None:
            return [None, None]
        _, outs = self._bindings(net, table)
        if val is not None:
            self._bindings(net, val)
        cols = ["epoch", "loss"]
        if any(o is not None for o in outs):
            cols.append("accuracy")
        if val is not None:
            cols += ["val_loss", "val_accuracy"]
        cols += ["lr", "seconds", "samples_per_s"]
        history = TableSpec(tuple(ColumnSpec(c, "integer" if c == "epoch" else "number",
                                             "int64" if c == "epoch" else "double") for c in cols))
        return [net, history]

    def execute(self, inputs, ctx):
        from deepnodes.core import Cancelled
        from deepnodes.dl.convert import convert
        from deepnodes.dl.tracking import beside
        from deepnodes.dl.train import (LossSpec, NaNLoss, TrainingCancelled, TrainingError, default_loss,
                                        history_table, output_activation, train)
        from deepnodes.table.arrow import require_rows, spec_of

        network, table, val = inputs
        c = self.config
        require_rows(table, "training table")
        ins, outs = self._bindings(network.spec, spec_of(table))
        if val is not None:
            self._bindings(network.spec, spec_of(val))
        ctx.progress(0.0, "converting the table")
        x = [convert(table, b, t, check=False) for b, t, _ in ins]
        y, losses = [], []
        class_names = None
        for i, o in enumerate(outs):
            if o is None:
                y.append(None)
                losses.append(None)
                continue
            b, t, e = o
            yt = convert(table, b, t, check=False, class_names=_row_classes(b, table, val))
            _check_classes(yt, b, t)
            class_names = class_names or yt.classes
            y.append(yt)
            act = output_activation(network, i)
            name = e.get("loss", "auto")
            if name == "auto":
                name = default_loss(yt, t.shape, act)
            losses.append(LossSpec(name, e.get("from_logits"), _class_weights(e.get("class_weights") or {}, yt, t),
                                   e.get("label_smoothing", 0.0),
                                   b.pad_value if yt.converter == "tokens" and e.get("mask_padding", True) else None,
                                   e.get("loss_weight", 1.0), e.get("huber_delta", 1.0)))
        vx = vy = None
        if val is not None and val.num_rows:
            vx = [convert(val, b, t, check=False, class_names=x[i].classes) for i, (b, t, _) in enumerate(ins)]
            vy = [None if o is None else convert(val, o[0], o[1], check=False,
                                                 class_names=y[i].classes if y[i] is not None else None)
                  for i, o in enumerate(outs)]

        epochs = c.epochs

        def on_batch(ev):
            done = (ev["epoch"] - 1 + ev["batch"] / ev["batches"]) / epochs
            v = ev["values"]
            ctx.metrics(v, step=ev["step"], epoch=ev["epoch"], kind="batch")
            msg = f"epoch {ev['epoch']}/{epochs} batch {ev['batch']}/{ev['batches']} loss {v['loss']:.4f}"
            if "accuracy" in v:
                msg += f" acc {v['accuracy']:.3f}"
            ctx.progress(done, msg)

        def on_epoch(ev):
            v = {k: val_ for k, val_ in ev["values"].items()
                 if k not in ("epoch", "partial") and isinstance(val_, (int, float))}
            ctx.metrics(v, step=ev["step"], epoch=ev["epoch"], kind="epoch")
            ctx.log(f"epoch {ev['epoch']}/{epochs}: " + ", ".join(
                f"{k} {val_:.4g}" for k, val_ in v.items() if k not in ("seconds",)))

        opts = beside(TrainingOptions.model_validate(c.model_dump(include=set(TrainingOptions.model_fields))),
                      ctx.folder)
        hooks = dict(on_batch=on_batch, on_epoch=on_epoch, should_stop=lambda: ctx.stop_requested,
                     check_cancelled=ctx.check_cancelled, log=ctx.log)
        try:
            if c.distributed.backend == "ray":
                from deepnodes.core.ray_runtime import ray_session
                from deepnodes.dl.distributed.ray_train import train_on_ray

                ray_session(ctx, c.distributed.address, option="distributed.address",
                            backend_option="distributed.backend")  # up for the rest of the run
                res = train_on_ray(network, table, ins, outs, losses, opts, c.distributed, val=val,
                                   input_classes=[t.classes for t in x],
                                   target_classes=[None if t is None else t.classes for t in y], **hooks)
            else:
                res = train(network, x, y, opts, losses, val_x=vx, val_y=vy, device=ctx.device, **hooks)
        except TrainingCancelled as e:
            r = e.result
            cancelled = Cancelled()
            cancelled.outputs = [r.network, history_table(r.history)]
            raise cancelled from None
        except NaNLoss as e:  # the node fails, and keeps the last good model as its partial output
            err = NodeError(str(e))
            r = getattr(e, "result", None)
            if r is not None:
                self._annotate(r.network, class_names, ins, x)
                err.outputs = [r.network, history_table(r.history)]
            raise err from None
        except TrainingError as e:
            raise NodeError(str(e)) from None
        self._annotate(res.network, class_names, ins, x)
        # the results reported are those of the model returned (the best epoch's when keep-best restored it)
        shown = res.reported or (res.history[-1] if res.history else {})
        for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if k in shown:
                ctx.result(k, round(float(shown[k]), 6))
        if res.best_epoch is not None and res.reported.get("epoch") == res.best_epoch:
            ctx.result("best_epoch", res.best_epoch)
        ctx.result("epochs", len([h for h in res.history if not h.get("partial")]))
        for k, v in throughput(res.history).items():
            ctx.result(k, v)
        if res.stopped:
            ctx.log(f"training ended early: {res.stopped}")
        return [res.network, history_table(res.history)]


    @staticmethod
    def _annotate(network, class_names, ins, x) -> None:
        """Class names of the targets and category mappings of the inputs, for the Executor."""
        if class_names and "class_names" not in network.metadata:
            network.metadata["class_names"] = list(class_names)
        in_classes = {t.name: xi.classes for (_, t, _), xi in zip(ins, x) if xi.classes}
        if in_classes:  # category inputs (one-hot, class index): the executor maps categories the same way
            network.metadata["input_classes"] = in_classes


def throughput(history: list[dict]) -> dict:
    """Training samples/s over all epochs (validation not counted) and seconds per epoch, for the run's results."""
    rows = [h for h in history if h.get("seconds")]
    secs = sum(h["seconds"] for h in rows)
    if not rows or secs <= 0:
        return {}
    done = sum(h["seconds"] * h.get("samples_per_s", 0.0) for h in rows)
    return {"samples_per_s": round(done / secs, 1), "seconds_per_epoch": round(secs / len(rows), 3)}


def _class_weights(weights: dict, target, tensor) -> list[float] | None:
    """Class weights keyed by class index or name -> a list over the output's units."""
    if not weights:
        return None
    n = target.num_classes or (tensor.shape[-1] if tensor.shape else None)
    if not n:
        raise NodeError("option 'targets.class_weights' needs a class target (an output with one unit per class)")
    out = [1.0] * n
    names = target.classes or []
    for k, w in weights.items():
        if k in names:
            i = names.index(k)
        elif str(k).lstrip("-").isdigit():
            i = int(k)
        else:
            have = ", ".join(repr(x) for x in names) if names else f"indices 0 to {n - 1}"
            raise NodeError(f"option 'targets.class_weights' names class '{k}', which the target does not have; "
                            f"its classes are {have}")
        if not 0 <= i < n:
            raise NodeError(f"option 'targets.class_weights' names class {i}, but the output has {n} units")
        out[i] = float(w)
    return out


def _row_classes(binding, table, val) -> list[str] | None:
    """The classes of a plain string target: every value of the training and validation rows (sorted), so a
    class that only the validation rows have keeps its name and its index."""
    import pyarrow as pa

    from deepnodes.table.arrow import column_spec

    name = binding.columns[0] if binding.columns else None
    if name is None or name not in table.column_names:
        return None
    spec = column_spec(table.schema.field(name))
    if spec.kind != "string" or pa.types.is_dictionary(table.schema.field(name).type):
        return None  # category columns carry their classes (categories or dictionary)
    values: set = set()
    for t in (table, val):
        if t is not None and name in t.column_names and not pa.types.is_dictionary(t.schema.field(name).type):
            values |= {v for v in t.column(name).unique().to_pylist() if v is not None}
    return sorted(values) if values else None


def _check_classes(target, binding, tensor) -> None:
    """A class target's output needs exactly one unit per class (else predictions have no names)."""
    names, n = target.classes, target.num_classes
    if target.converter in ("class_index", "one_hot") and names and n and len(names) != n:
        raise NodeError(f"column '{binding.columns[0]}' has {len(names)} classes ({', '.join(names[:5])}"
                        f"{', ...' if len(names) > 5 else ''}) but the network output '{tensor.name}' has {n} units; "
                        f"use an output layer with {len(names)} units, or a category column that lists every class")
