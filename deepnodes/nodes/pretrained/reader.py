"""Pretrained Network Reader: a network from the offline catalogue of pretrained networks."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import Node, NodeConfig, NodeError, Out, node


def _errors(fn, *args, **kw):
    from deepnodes.dl.pretrained import MissingPackage

    try:
        return fn(*args, **kw)
    except MissingPackage as e:
        raise NodeError(str(e)) from None


@node("deepnodes.dl.PretrainedNetworkReader", name="Pretrained Network Reader", category="Deep Learning/Pretrained")
class PretrainedNetworkReader(Node):
    """Reads a pretrained network from the catalogue (works offline): first EfficientNet-Lite0 with its
    ImageNet weights and 1000 class names, input (3, 224, 224).

    With 'include_top' off the ImageNet classifier is left out and the network ends in its pooled features
    (1280 for EfficientNet-Lite0): feed them to XGBoost, or append layer nodes as a new head and fine-tune.
    The network's normalisation is recorded in its metadata ('preprocessing'), which the Pretrained Image
    Preprocess node applies. Plugins add networks through the 'deepnodes.pretrained' entry points."""

    outputs = [Out("network", "network", "the pretrained network")]

    class Config(NodeConfig):
        network: str = Field("efficientnet-lite0", description="catalogue name of the network "
                             "(efficientnet-lite0, or one a plugin adds)")
        include_top: bool = Field(True, description="keep the ImageNet classifier (1000 class probabilities)")
        pooling: Literal["avg", "max", "none"] = Field("avg", description="without the classifier: global average "
                                                       "or max pooling of the last feature map, or none (C, H, W)")

    def _options(self) -> dict:
        return {"include_top": self.config.include_top, "pooling": self.config.pooling}

    def configure(self, specs):
        from deepnodes.dl.pretrained import pretrained_spec

        try:
            return [_errors(pretrained_spec, self.config.network, **self._options())]
        except (ValueError, TypeError) as e:
            raise NodeError(str(e)) from None

    def execute(self, inputs, ctx):
        from deepnodes.dl.pretrained import load_pretrained

        ctx.progress(None, f"loading {self.config.network}")
        net = _errors(load_pretrained, self.config.network, **self._options())
        ctx.log(f"{self.config.network}: {net.spec.describe()}")
        return [net]
