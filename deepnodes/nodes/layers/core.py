"""Core layer nodes: Input, Dense, Dropout, Activation, Flatten, Reshape, Permute, RepeatVector, Masking, and
Collect Outputs (several networks -> one multi-output network)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, Out, limits, node

from .base import layer_node


@node("deepnodes.layers.Input", name="Input Layer", category="Deep Learning/Layers/Core")
class InputLayer(Node):
    """A network input: the start of every network built from layer nodes.

    The shape excludes the batch dimension and follows PyTorch's layout: (C, H, W) for images (MNIST: [1, 28, 28]),
    (T, F) for sequences of feature vectors, (T,) with dtype int64 for token ids that feed an Embedding.
    """

    inputs = []
    outputs = [Out("network", "network", "a network with this one input (and no other layer yet)")]

    class Config(NodeConfig):
        shape: list[Optional[limits.Dim]] = Field(default_factory=lambda: [1, 28, 28],
                                           description="tensor shape without the batch dimension, PyTorch layout "
                                           "((C, H, W) images, (T, F) sequences, (T,) token ids); -1 = variable size")
        dtype: Literal["float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool"] = Field(
            "float32", description="tensor dtype; 'int64' for token ids")
        name: Optional[str] = Field(None, description="input name; empty = 'input_1'")

    def configure(self, specs):
        from deepnodes.dl import graph

        return [graph.input_spec(self.config.shape, self.config.dtype, self.config.name)]

    def execute(self, inputs, ctx):
        from deepnodes.dl.build import LayerBuilder
        from deepnodes.dl.network import Network

        return [Network(self.configure([])[0], builder=LayerBuilder())]


Dense = layer_node("Dense", dictionary_option="units")
Dropout = layer_node("Dropout")
Activation = layer_node("Activation")
Flatten = layer_node("Flatten")
Reshape = layer_node("Reshape")
Permute = layer_node("Permute")
RepeatVector = layer_node("RepeatVector")
Masking = layer_node("Masking")


@node("deepnodes.layers.CollectOutputs", name="Collect Outputs", category="Deep Learning/Layers/Core")
class CollectOutputs(Node):
    """Makes one multi-output network from 2 to 5 networks built from a common graph (e.g. two heads on one
    trunk): its outputs are, in port order, each input network's first output (or the tensor named in
    `output_tensors`). The Learner then gets one target and loss per output."""

    inputs = [In(f"network_{i}", "network", f"network whose output becomes output {i}", optional=i > 2)
              for i in range(1, 6)]
    outputs = [Out("network", "network", "the multi-output network")]

    class Config(NodeConfig):
        output_tensors: Optional[list[Optional[str]]] = Field(
            None, description="per input, the tensor to output (e.g. 'lstm_1:1'); empty = its first output")

    def configure(self, specs):
        from deepnodes.dl import graph

        specs = [s for s in specs if s is not None]
        if len(specs) < 2:
            return [None]
        return [graph.collect_outputs(specs, self.config.output_tensors)[0]]

    def execute(self, inputs, ctx):
        from deepnodes.dl import graph
        from deepnodes.dl.build import extend_network

        from .base import opaque_graph

        nets = [n for n in inputs if n is not None]
        spec, renames = graph.collect_outputs([opaque_graph(n) for n in nets], self.config.output_tensors)
        return [extend_network(nets, spec, renames)]


