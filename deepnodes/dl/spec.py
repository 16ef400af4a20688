"""Network specs: what a node knows about a network before any weights exist. Pure Python, no torch.

Shapes exclude the batch dimension; `None` marks a variable dimension (a sequence length, say).
Tensors follow PyTorch layout: (C, H, W) for images, (T, F) for sequences.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

Shape = tuple[int | None, ...]


def fmt_shape(shape: Shape) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


@dataclass(frozen=True)
class TensorSpec:
    """A named network input or output: `shape` without the batch dimension, `dtype` as torch names it."""

    name: str
    shape: Shape
    dtype: str = "float32"

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_json(cls, d: dict) -> "TensorSpec":
        return cls(d["name"], tuple(d["shape"]), d.get("dtype", "float32"))

    def describe(self) -> str:
        return f"{self.name} {fmt_shape(self.shape)} {self.dtype}"


@dataclass(frozen=True)
class LayerEntry:
    """One layer in a network built from layer nodes: its kind (a key of the layer catalogue), its config,
    the names of the tensors it reads (`inputs`, "layer" or "layer:k" for a layer's k-th output) and
    its inferred output specs."""

    name: str
    kind: str
    config: dict = field(default_factory=dict, hash=False, compare=False)
    inputs: tuple[str, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    trainable: bool = True

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "config": self.config, "inputs": list(self.inputs),
                "outputs": [o.to_json() for o in self.outputs], "trainable": self.trainable}

    @classmethod
    def from_json(cls, d: dict) -> "LayerEntry":
        return cls(d["name"], d["kind"], d.get("config", {}), tuple(d.get("inputs", ())),
                   tuple(TensorSpec.from_json(o) for o in d.get("outputs", ())), d.get("trainable", True))


@dataclass(frozen=True)
class NetworkSpec:
    """A network's interface and, when built from layer nodes, its layer graph.

    `inputs` / `outputs` are the network's tensors in the order the torch module takes and returns them.
    `output_layers` names, for each output, the layer tensor it comes from ("dense_1" or "lstm_1:1").
    """

    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    layers: tuple[LayerEntry, ...] = ()
    output_layers: tuple[str, ...] = ()
    port_type = "network"

    def layer(self, name: str) -> LayerEntry:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"the network has no layer '{name}'")

    def with_(self, **kw: Any) -> "NetworkSpec":
        return replace(self, **kw)

    def to_json(self) -> dict:
        return {"port_type": "network", "inputs": [t.to_json() for t in self.inputs],
                "outputs": [t.to_json() for t in self.outputs], "layers": [layer.to_json() for layer in self.layers],
                "output_layers": list(self.output_layers)}

    @classmethod
    def from_json(cls, d: dict) -> "NetworkSpec":
        return cls(tuple(TensorSpec.from_json(t) for t in d.get("inputs", ())),
                   tuple(TensorSpec.from_json(t) for t in d.get("outputs", ())),
                   tuple(LayerEntry.from_json(x) for x in d.get("layers", ())),
                   tuple(d.get("output_layers", ())))

    def describe(self) -> str:
        ins = ", ".join(t.describe() for t in self.inputs)
        outs = ", ".join(t.describe() for t in self.outputs)
        return f"inputs: {ins}; outputs: {outs}; {len(self.layers)} layers"
