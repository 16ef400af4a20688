"""What every layer node shares: a config generated from the layer kind's options, shape inference at configure
time (`deepnodes.dl.graph`), and an output network that reuses the upstream networks' modules.

A family module is then a few lines: `Dense = layer_node("Dense")`. No torch here.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, create_model

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, limits, node

NAME_DESC = ("layer name; empty = automatic, the layer kind in snake case numbered by the layers of that kind "
             "upstream (dense_1, dense_2...)")
TENSORS_DESC = ("which tensor each input reads, one entry per connected input, e.g. 'lstm_1:1' for an LSTM's h "
                "state; empty = each input network's first output")


def _int_max(o) -> int:
    """The upper bound of an integer option (or of each integer in a list option) without its own `le`."""
    if o.le is not None:
        return int(o.le)
    if o.name == "input_dim":
        return limits.VOCAB
    return limits.LENGTH if o.type == "shape" or o.name in ("target_shape", "n") else limits.SIZE


def _annotation(o) -> Any:
    t = o.type
    i = Annotated[int, Field(le=_int_max(o))]  # every integer in a layer option is bounded (see core/limits.py)
    if t == "int":
        a: Any = int
    elif t == "float":
        a = float
    elif t == "bool":
        a = bool
    elif t == "str":
        a = Literal[tuple(o.choices)] if o.choices else str  # type: ignore[misc]
    elif t in ("ints", "axis"):
        a = Union[i, list[i]]
    elif t == "shape":
        a = list[Optional[i]]
    elif t == "intlist":
        a = list[i]
    elif t == "pads":
        a = Union[i, list[Union[i, list[i]]]]
    elif t == "reg":
        a = dict[str, float]
    else:
        a = dict
    if o.nullable or o.default is None:
        a = Optional[a]
    return a


def _field(o) -> Any:
    kw = {k: getattr(o, k) for k in ("ge", "gt", "le", "lt") if getattr(o, k) is not None and o.type in ("int", "float")}
    if o.type == "int" and "lt" not in kw:
        kw["le"] = _int_max(o)
    default = o.default
    if isinstance(default, (list, dict)):
        return Field(default_factory=lambda d=default: type(d)(d), description=o.description, **kw)
    return Field(default, description=o.description, **kw)


def config_model(kind: str, layer_cls, extra: dict | None = None):
    fields: dict[str, Any] = {"name": (Optional[str], Field(None, description=NAME_DESC))}
    for o in layer_cls.options:
        fields[o.name] = (_annotation(o), _field(o))
    fields["trainable"] = (bool, Field(True, description="whether training updates this layer's weights (false = "
                                                          "frozen, e.g. a pretrained part)"))
    if layer_cls.input_names:
        fields["input_tensors"] = (Optional[list[Optional[str]]], Field(None, description=TENSORS_DESC))
    fields.update(extra or {})
    return create_model(f"{kind}Config", __base__=NodeConfig, **fields)


class LayerNode(Node):
    """Base of the generated layer nodes."""

    kind: str = ""
    state_inputs_from: int | None = None
    #: the option a connected dictionary sets to its size (Embedding: input_dim, Dense: units), or None
    dictionary_option: str | None = None
    PRIVATE = ("name", "input_tensors", "trainable")

    def layer_config(self, dictionary=None) -> dict:
        cfg = self.config.model_dump()
        cfg = {k: v for k, v in cfg.items() if k not in self.PRIVATE}
        if dictionary is not None:
            size = dictionary.size if hasattr(dictionary, "size") else (dictionary.info or {}).get("size")
            if size:
                cfg[self.dictionary_option] = int(size)
        return cfg

    def _split_dictionary(self, items: list) -> tuple[list, object]:
        """(the network inputs, the connected dictionary or its spec, or None)."""
        if self.dictionary_option is None:
            return list(items), None
        items = list(items)
        d = items.pop()
        if d is not None:
            from deepnodes.nodes.text._common import require_dictionary

            require_dictionary(d)  # a Vocabulary or, at configure time, its ModelSpec: both name the model type
        return items, d

    def _connected(self, items: list) -> list:
        items = list(items)
        while items and items[-1] is None:
            items.pop()
        for i, x in enumerate(items):
            if x is None:
                raise NodeError(f"input '{self.inputs[i].name}' is not connected but a later input is")
        return items

    def configure(self, specs):
        from deepnodes.dl import graph

        specs, dictionary = self._split_dictionary(specs)
        specs = self._connected(specs)
        if len(specs) < sum(1 for p in self.inputs if not p.optional):
            return [None]
        spec, _ = graph.append_layer(specs, self.kind, self.layer_config(dictionary), self.config.name,
                                     getattr(self.config, "input_tensors", None), self.state_inputs_from,
                                     self.config.trainable)
        return [spec]

    def execute(self, inputs, ctx):
        from deepnodes.dl import graph
        from deepnodes.dl.build import extend_network

        nets, dictionary = self._split_dictionary(inputs)
        nets = self._connected(nets)
        specs = [opaque_graph(n) for n in nets]
        spec, renames = graph.append_layer(specs, self.kind, self.layer_config(dictionary), self.config.name,
                                           getattr(self.config, "input_tensors", None), self.state_inputs_from,
                                           self.config.trainable)
        meta = None
        if dictionary is not None:
            from deepnodes.dl.carried_dictionary import metadata

            meta = metadata(spec.layers[-1].name, dictionary)
        return [extend_network(nets, spec, renames, meta)]


def opaque_graph(net):
    """The layer graph of an upstream network, wrapping an opaque one (no layer graph) as one "module" layer that
    records how to rebuild it (metadata 'factory') and its class."""
    from deepnodes.dl import graph

    if net.spec.layers:
        return net.spec
    m = net._module
    cls = f"{type(m).__module__}:{type(m).__qualname__}" if m is not None else None
    return graph.as_graph(net.spec, factory=net.metadata.get("factory"), class_path=cls)


def layer_node(kind: str, *, title: str | None = None, state_inputs_from: int | None = None,
               dictionary_option: str | None = None):
    """Create and register the node of catalogue layer `kind` ("deepnodes.layers.<kind>")."""
    from deepnodes.dl.layers import get_layer

    layer_cls = get_layer(kind)
    ports = [In(n, "network", "the network to extend" if i == 0 else
                ("an initial state (h or c), e.g. an encoder LSTM's state outputs" if state_inputs_from is not None
                 else f"network {i + 1} to merge"), optional=i >= layer_cls.min_inputs)
             for i, n in enumerate(layer_cls.input_names)]
    if dictionary_option:
        ports.append(In("dictionary", "model", f"optional: a text dictionary; its size sets '{dictionary_option}' "
                        "and the trained network carries it to the Text Generator and Decoder", optional=True))
    doc = layer_cls.doc()
    attrs = {
        "__doc__": doc, "__module__": _caller_module(), "kind": kind, "state_inputs_from": state_inputs_from,
        "dictionary_option": dictionary_option,
        "inputs": ports, "outputs": [Out("network", "network", "the network with the new layer; its outputs are the "
                                          "layer's outputs, shapes known at configure time")],
        "Config": config_model(kind, layer_cls),
    }
    cls = type(kind, (LayerNode,), attrs)
    return node(f"deepnodes.layers.{kind}", name=title or f"{kind} Layer",
                category=f"Deep Learning/Layers/{layer_cls.family}", description=doc)(cls)


def _caller_module() -> str:
    import sys

    return sys._getframe(2).f_globals.get("__name__", __name__)
