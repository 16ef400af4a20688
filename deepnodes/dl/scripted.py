"""Networks written, trained and applied by the user's own Python code (the Python network nodes).

    net = create_network(code, inputs=[TensorSpec("x", (4,))], outputs=[TensorSpec("y", (3,))], seed=0)
    net, history = train_network(code, net, table, None, context)
    table = execute_network(code, net, table)

The code is run by `deepnodes.scripting.run_script`, so errors name the script's line and what it prints
goes to the node's log. Names the code sees are listed in each function's docstring.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from deepnodes.scripting import ScriptError, call_in_script, run_script, table_for_script, table_from_script, type_name

from .network import Network
from .spec import NetworkSpec, TensorSpec, fmt_shape

#: the size given to variable (None) dimensions when a network is checked with a dummy batch
PROBE_LENGTH = 5


def column_tensor(table: Any, name: str, dtype: Any = None):
    """A column of a pandas DataFrame or pyarrow Table as one torch tensor (tensor cells are stacked)."""
    import numpy as np
    import torch

    try:
        import pyarrow as pa

        if isinstance(table, pa.Table):
            from deepnodes.table.arrow import get_column, to_torch

            t = to_torch(get_column(table, name))
            return t if dtype is None else t.to(dtype)
    except ImportError:  # pragma: no cover
        pass
    if name not in table.columns:
        raise KeyError(f"column '{name}' is not in the table; its columns are {', '.join(map(repr, table.columns))}")
    s = table[name]
    values = np.stack(s.to_numpy()) if len(s) and isinstance(s.iloc[0], np.ndarray) else s.to_numpy()
    if isinstance(values, np.ndarray) and not values.flags.writeable:
        values = values.copy()
    t = torch.as_tensor(values)
    return t if dtype is None else t.to(dtype)


def _namespace(extra: dict) -> dict:
    import numpy as np
    import torch

    return {"torch": torch, "nn": torch.nn, "np": np, "column_tensor": column_tensor, **extra}


def _dummy_inputs(specs: Sequence[TensorSpec]):
    import torch

    out = []
    for s in specs:
        shape = (2, *(PROBE_LENGTH if d is None else d for d in s.shape))
        dtype = getattr(torch, s.dtype, torch.float32)
        out.append(torch.zeros(shape, dtype=dtype))
    return out


def check_module(module: Any, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], what: str,
                 passthrough: tuple = ()) -> None:
    """Run `module` on a dummy batch of 2 and check it returns the declared outputs (number and shapes)."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise ScriptError(f"{what} must be a torch.nn.Module; it is {'nothing' if module is None else 'a ' + type_name(module)}")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = call_in_script(module, *_dummy_inputs(inputs), passthrough=passthrough)
    except ScriptError as e:
        raise ScriptError(f"{what} fails on a batch of the declared inputs "
                          f"({', '.join(s.describe() for s in inputs)}): {e}") from None
    finally:
        module.train(was_training)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    if len(outs) != len(outputs):
        raise ScriptError(f"{what} returns {len(outs)} tensor(s); the node declares {len(outputs)} output(s) "
                          f"({', '.join(s.name for s in outputs)})")
    for spec, t in zip(outputs, outs):
        if not isinstance(t, torch.Tensor):
            raise ScriptError(f"{what} returns a {type_name(t)} for output '{spec.name}'; it must return tensors")
        got = tuple(t.shape[1:])
        ok = len(got) == len(spec.shape) and all(d is None or d == g for d, g in zip(spec.shape, got))
        if not ok:
            raise ScriptError(f"{what} gives output '{spec.name}' the shape {fmt_shape(got)} (without the batch); "
                              f"the node declares {fmt_shape(spec.shape)}")


def python_spec(inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]) -> NetworkSpec:
    """The spec of a network made by code: its declared interface, no layer graph (an opaque network, which
    layer nodes see as one "module" layer, so a head can be appended to it)."""
    return NetworkSpec(tuple(inputs), tuple(outputs))


def create_network(code: str, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec], seed: int = 0,
                   log: Callable[[str, str], None] | None = None, passthrough: tuple = ()) -> Network:
    """Run code that assigns a torch module to `output_network`.

    The code sees: torch, nn, np, `input_specs` / `output_specs` (the declared TensorSpecs)."""
    from .rng import seeded

    with seeded(seed):  # the script draws from torch's global generator: seeded, and alone while it runs
        ns = run_script(code, _namespace({"input_specs": list(inputs), "output_specs": list(outputs)}), log,
                        passthrough=passthrough)
    if "output_network" not in ns:
        raise ScriptError("the script must assign the network (a torch.nn.Module) to 'output_network'")
    module = ns["output_network"]
    check_module(module, inputs, outputs, "'output_network'", passthrough)
    return Network(python_spec(inputs, outputs), module,
                   {"seed": seed, "source": "python", "python_code": code})


class ScriptTrainingContext:
    """What a training script uses to report like the Network Learner: `metrics`, `progress`, `log`,
    `stop_requested`, `check_cancelled`. Epoch metrics (kind='epoch') become the history table."""

    def __init__(self, node_ctx: Any = None):
        self._ctx = node_ctx
        self.history: list[dict] = []

    def metrics(self, values: dict, *, step: int | None = None, epoch: int | None = None, kind: str = "batch") -> None:
        values = {k: float(v) for k, v in values.items()}
        if kind == "epoch":
            self.history.append({"epoch": epoch if epoch is not None else len(self.history) + 1, **values})
        if self._ctx is not None:
            self._ctx.metrics(values, step=step, epoch=epoch, kind=kind)

    def progress(self, fraction: float | None, message: str = "") -> None:
        if self._ctx is not None:
            self._ctx.progress(fraction, message)

    def log(self, line: str) -> None:
        if self._ctx is not None:
            self._ctx.log(str(line))

    @property
    def stop_requested(self) -> bool:
        return bool(self._ctx is not None and self._ctx.stop_requested)

    def check_cancelled(self) -> None:
        if self._ctx is not None:
            self._ctx.check_cancelled()


def history_table(history: list[dict]):
    import pyarrow as pa

    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    if not keys:
        return pa.table({"epoch": pa.array([], pa.int64())})
    return pa.table({k: pa.array([row.get(k) for row in history], pa.int64() if k == "epoch" else pa.float64())
                     for k in keys})


def train_network(code: str, network: Network, table: Any, validation: Any = None,
                  context: ScriptTrainingContext | None = None, api: str = "pandas", seed: int = 0,
                  log: Callable[[str, str], None] | None = None, passthrough: tuple = ()) -> tuple[Network, Any]:
    """Run training code on a copy of `network`; returns the trained network and its history table.

    The code sees: torch, nn, np, column_tensor, `input_network` (the torch module, in train mode),
    `input_spec` (the NetworkSpec), `input_table` and `validation_table` (pandas or pyarrow), and `context`
    (metrics / progress / log / stop_requested / check_cancelled). It trains `input_network` in place or
    assigns the trained module to `output_network`."""
    context = context or ScriptTrainingContext()
    net = network.copy()
    module = net.module
    frozen = [n for n, p in module.named_parameters() if not p.requires_grad]
    if frozen and not any(p.requires_grad for p in module.parameters()):
        raise ScriptError("every layer of the input network is frozen, so training cannot change it; "
                          "unfreeze some layers first")
    from .rng import seeded

    module.train()
    with seeded(seed):  # a training script draws from torch's global generator (shuffling, dropout): seeded, and
        # alone while it runs, so nothing beside it changes its result (other random draws wait for it)
        ns = run_script(code, _namespace({"input_network": module, "input_spec": net.spec,
                                          "input_table": table_for_script(table, api),
                                          "validation_table": table_for_script(validation, api),
                                          "context": context}), log, passthrough=passthrough)
    trained = ns.get("output_network", module)
    check_module(trained, net.spec.inputs, net.spec.outputs, "the trained network", passthrough)
    trained.eval()
    meta = dict(net.metadata)
    meta["history"] = list(meta.get("history", [])) + context.history
    meta["seed"] = seed
    out = Network(net.spec, trained, meta, net._builder)
    return out, history_table(context.history)


def execute_network(code: str, network: Network, table: Any, api: str = "pandas",
                    log: Callable[[str, str], None] | None = None, passthrough: tuple = ()):
    """Run inference code; returns its `output_table` as a pyarrow Table.

    The code sees: torch, nn, np, column_tensor, `input_network` (the torch module, in eval mode),
    `input_spec`, `input_table`; it assigns `output_table`."""
    module = network.inference_module()  # the script gets its own eval-mode view of the input network
    ns = run_script(code, _namespace({"input_network": module, "input_spec": network.spec,
                                      "input_table": table_for_script(table, api)}), log, passthrough=passthrough)
    if "output_table" not in ns:
        raise ScriptError("the script must assign its result (a pandas DataFrame or pyarrow Table) to 'output_table'")
    return table_from_script(ns["output_table"])
