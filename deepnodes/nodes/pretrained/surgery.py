"""Freeze Layers and Set Output Layers: change which layers train and which tensors a network returns."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, limits, node


def _need_network(spec):
    if spec is not None and getattr(spec, "port_type", None) != "network":
        raise NodeError(f"the 'network' input needs a network; it got a {getattr(spec, 'port_type', 'different')} port")


@node("deepnodes.dl.FreezeLayers", name="Freeze Layers", category="Deep Learning/Network Surgery")
class FreezeLayers(Node):
    """Freezes (or unfreezes) layers so a learner leaves their weights unchanged: every layer, layers by
    name, layers whose name matches a pattern ('block_*'), or all but the last N layers with weights.

    Frozen BatchNormalization layers also keep their statistics when the learner's 'freeze_batchnorm' is on.
    A network with every layer frozen cannot be trained: the learner says so."""

    inputs = [In("network", "network", "the network")]
    outputs = [Out("network", "network", "the network with the chosen layers frozen")]

    class Config(NodeConfig):
        mode: Literal["all_but_last", "names", "pattern", "all"] = Field(
            "all_but_last", description="which layers: all but the last N with weights, by name, by pattern, or all")
        last_n: int = Field(1, ge=0, le=limits.SIZE,
            description="mode all_but_last: how many of the last layers with weights stay "
                            "trainable")
        layers: list[str] = Field(default_factory=list, description="mode names: the layer names")
        pattern: str = Field("", description="mode pattern: a name pattern, e.g. 'block_*' (glob) or 'block_[0-9]+' "
                             "(regex)")
        pattern_syntax: Literal["glob", "regex"] = Field("glob", description="how 'pattern' is read")
        action: Literal["freeze", "unfreeze"] = Field("freeze", description="freeze the chosen layers, or make them "
                                                      "trainable again")

    def _spec(self, spec):
        from deepnodes.dl.surgery import freeze_spec

        c = self.config
        return freeze_spec(spec, c.mode, c.layers, c.pattern, c.pattern_syntax, c.last_n, c.action == "freeze")

    def configure(self, specs):
        _need_network(specs[0])
        return [None if specs[0] is None else self._spec(specs[0])]

    def execute(self, inputs, ctx):
        from deepnodes.dl.surgery import apply_spec, frozen_names

        spec = self._spec(inputs[0].spec)
        net = apply_spec(inputs[0], spec)
        frozen = frozen_names(spec)
        ctx.log(f"frozen: {', '.join(frozen) if frozen else 'none'}")
        trainable = sum(p.numel() for p in net.module.parameters() if p.requires_grad)
        ctx.result("trainable_params", int(trainable))
        return [net]


@node("deepnodes.dl.SetOutputLayers", name="Set Output Layers", category="Deep Learning/Network Surgery")
class SetOutputLayers(Node):
    """Makes any layer's output tensor a network output, e.g. a pretrained CNN's pooled features: the network
    becomes a feature extractor. Layers the new outputs do not need are dropped (option 'prune')."""

    inputs = [In("network", "network", "the network")]
    outputs = [Out("network", "network", "the network with the chosen outputs")]

    class Config(NodeConfig):
        layers: list[str] = Field(default_factory=list, description="layer tensors to output, in order: 'avg_pool', "
                                  "or 'lstm_1:1' for a layer's second output")
        prune: bool = Field(True, description="drop the layers the new outputs do not need")

    def configure(self, specs):
        _need_network(specs[0])
        if specs[0] is None:
            return [None]
        from deepnodes.dl.surgery import outputs_spec

        return [outputs_spec(specs[0], self.config.layers, self.config.prune)]

    def execute(self, inputs, ctx):
        from deepnodes.dl.surgery import apply_spec, outputs_spec

        net = inputs[0]
        spec = outputs_spec(net.spec, self.config.layers, self.config.prune)
        meta = {}
        kept = set(spec.output_layers) & set(net.spec.output_layers)
        new = apply_spec(net, spec, meta)
        if not kept:  # the old outputs are gone: their class names no longer apply
            new.metadata.pop("class_names", None)
            new.metadata.pop("output_activations", None)
        return [new]
