"""Helpers for data-node tests: run one node on real tables and check its configured specs."""
from __future__ import annotations

import threading

from deepnodes.core import registry
from deepnodes.core.node import ExecutionContext
from deepnodes.core.ports import PORT_TYPES


def make_node(type_id: str, config: dict | None = None):
    cls = registry.get(type_id)
    return cls(cls.Config.model_validate(config or {}))


def run_node(type_id: str, config: dict | None = None, inputs: list | None = None, check_specs: bool = True):
    """configure (from the inputs' real specs) then execute one node; returns (outputs, ctx, configured specs).

    With `check_specs`, every configured output spec must equal the spec of the object executed
    (the "exact specs at configure time" contract)."""
    node = make_node(type_id, config)
    inputs = inputs or []
    specs = [PORT_TYPES[p.type].io.spec_of(o) if o is not None else None for p, o in zip(node.inputs, inputs)]
    configured = node.configure(specs)
    events: list[dict] = []
    ctx = ExecutionContext("n", events.append, threading.Event())
    outputs = node.execute(inputs, ctx)
    assert len(outputs) == len(node.outputs)
    if check_specs:
        for p, want, got in zip(node.outputs, configured, outputs):
            real = PORT_TYPES[p.type].io.spec_of(got)
            if p.type == "table":
                assert want == real, f"{type_id} output '{p.name}': configured {want.describe()} != real {real.describe()}"
            else:
                assert want.model_type == real.model_type
    return outputs, ctx, configured


def configure_error(type_id: str, config: dict, specs: list) -> str:
    """The one-sentence message a node's configure raises."""
    node = make_node(type_id, config)
    try:
        node.configure(specs)
    except Exception as e:  # noqa: BLE001
        from deepnodes.core.engine import error_message

        return error_message(e)
    raise AssertionError(f"{type_id} configured without an error")
