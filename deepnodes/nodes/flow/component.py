"""Component, Component Input and Component Output: a piece of workflow used as one node.

The body (`deepnodes/core/component.py`) is an inline workflow or a shared workflow file; its Component Input
and Component Output nodes are the component's ports, of any port type.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, WorkflowError, node
from deepnodes.core.component import INPUT_TYPE, OUTPUT_TYPE, configure_body, layout_free, load_body, run_body
from deepnodes.core.workflow_file import current_folder, relative_to

PortKind = Literal["table", "network", "model"]


class PortOptions(NodeConfig):
    name: str = Field("", description="the port's name on the holding node (empty: this node's id)")
    type: PortKind = Field("table", description="the port type")


class BodyOptions(NodeConfig):
    """Options of every node holding a body; exposed inner options are extra top-level options."""

    model_config = ConfigDict(extra="allow", validate_assignment=True, protected_namespaces=(), defer_build=True)
    body: dict[str, Any] | None = Field(None, description="the body: an inline workflow (its nodes and connections)")
    body_file: str = Field("", description="a shared component file (a workflow file) used as the body instead",
                           json_schema_extra={"x-path": "file"})
    expose: dict[str, str] = Field(default_factory=dict,
                                   description="inner options shown as this node's own: name -> 'node.option'")

    @model_validator(mode="after")
    def _only_exposed_extras(self):
        for k in self.model_extra or {}:
            if k not in self.expose:
                names = ", ".join(self.expose) or "none"
                raise ValueError(f"'{k}' is neither an option nor an exposed option (exposed: {names})")
        return self

    @classmethod
    def exposed_names(cls, full: dict) -> list[str]:
        return list(full.get("expose") or {})


class BodyNode(Node):
    """A node whose body is loaded from its config when it is built (errors are shown when it is configured)."""

    def __init__(self, config=None, label: str = ""):
        super().__init__(config, label)
        self.body, self.body_error, self._signature = None, "", ""
        self.folder = current_folder()  # the workflow's folder, for bodies loaded later (in the engine's threads)
        try:
            self.body = self.load_body(self.config.model_dump(mode="json"))
        except NodeError as e:
            self.body_error = str(e)

    def load_body(self, config: dict):
        """A body from this config (a variant of the node's own), a relative body file in the workflow's folder."""
        with relative_to(self.folder):
            return load_body(config, self.label)

    def key_config(self) -> dict:
        """The config for the cache key: the inline body without its nodes' positions (a move computes nothing)."""
        cfg = self.config.model_dump(mode="json")
        return {**cfg, "body": layout_free(cfg["body"])} if cfg.get("body") else cfg

    def checked_body(self):
        if self.body is None:
            raise NodeError(self.body_error)
        return self.body

    def signature_extra(self) -> str:
        return self._signature  # the body file's hash and every inner key (configs, files read), from configure


@node("deepnodes.flow.Component", name="Component", category="Flow")
class Component(BodyNode):
    """A workflow used as one node. Its body's Component Input nodes are its inputs and its Component Output
    nodes its outputs. Inner options listed in `expose` are set like the component's own
    (`--set component.epochs=3`); inner progress and events are shown as `component/node`."""

    class Config(BodyOptions):
        pass

    def __init__(self, config=None, label: str = ""):
        super().__init__(config, label)
        self.inputs, self.outputs = self.body.ports() if self.body else ([], [])

    @classmethod
    def ports_for(cls, config: dict, node_id: str = "component"):
        try:
            return load_body(config, node_id).ports()
        except NodeError as e:
            raise WorkflowError(f"node '{node_id}': {e}") from None

    def configure(self, specs):
        body = self.checked_body()
        outs, self._signature = configure_body(body, {p.name: s for p, s in zip(self.inputs, specs)}, self.label)
        return [outs[p.name] for p in self.outputs]

    def execute(self, inputs, ctx):
        from deepnodes.core.ports import PORT_TYPES

        body = self.checked_body()
        feeds = {p.name: (PORT_TYPES[p.type].io.spec_of(x) if x is not None else None,
                          ctx.input_keys.get(p.name, "-"), x) for p, x in zip(self.inputs, inputs)}
        outputs, scalars, _ = run_body(body, feeds, ctx, self.label, watch=inner_progress(ctx, body))
        for k, v in scalars.items():
            ctx.result(k, v)
        return [outputs[p.name] for p in self.outputs]


def inner_progress(ctx, body):
    """A watch that shows the body's progress on the holding node: the share of inner nodes done (the running
    one's own fraction counted in) and what the running one says ('learner: epoch 2 of 5')."""
    total = max(1, len(body.workflow.nodes))
    done: set[str] = set()

    def watch(ev: dict, eng) -> None:
        nid, kind = ev.get("node"), ev.get("type")
        if kind == "state" and ev.get("state") == "executed" and nid:
            done.add(nid)
            ctx.progress(len(done) / total, f"{len(done)} of {total} inner nodes")
        elif kind == "progress" and nid:
            frac = ev.get("fraction")
            share = (len(done) + (frac if isinstance(frac, (int, float)) else 0.0)) / total
            ctx.progress(min(share, 1.0), f"{nid}: {ev.get('message') or 'running'}")
    return watch


@node(INPUT_TYPE, name="Component Input", category="Flow")
class ComponentInput(Node):
    """One input of a component or loop body: what the holding node gives on the port of this name."""
    inputs = []
    outputs = [Out("value", "table", "what the holding node gives")]

    class Config(PortOptions):
        pass

    def __init__(self, config=None, label: str = ""):
        super().__init__(config, label)
        self.outputs = [Out("value", self.config.type, "what the holding node gives")]

    @classmethod
    def ports_for(cls, config: dict, node_id: str = ""):
        return [], [Out("value", config.get("type", "table"), "what the holding node gives")]

    def configure(self, specs):
        raise NodeError("a Component Input gives data only inside the body of a Component or a loop")


@node(OUTPUT_TYPE, name="Component Output", category="Flow")
class ComponentOutput(Node):
    """One output of a component or loop body: what arrives here leaves the holding node on the port of this name."""
    inputs = [In("value", "table", "what the holding node gives out")]
    outputs = [Out("value", "table", "the same object")]

    class Config(PortOptions):
        pass

    def __init__(self, config=None, label: str = ""):
        super().__init__(config, label)
        self.inputs, self.outputs = self.ports_for(self.config.model_dump())

    @classmethod
    def ports_for(cls, config: dict, node_id: str = ""):
        t = config.get("type", "table")
        return [In("value", t, "what the holding node gives out")], [Out("value", t, "the same object")]

    def configure(self, specs):
        return [specs[0]]

    def execute(self, inputs, ctx):
        return [inputs[0]]
