"""Pretrained Network Reader: a network from the offline catalogue of pretrained networks."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import Node, NodeConfig, NodeError, Out, limits, node
from deepnodes.dl.convert import OUTPUT_ACTIVATION_HELP, OutputActivation, record_output_activation


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


@node("deepnodes.dl.TorchModuleReader", name="Torch Module Reader", category="Deep Learning/Pretrained")
class TorchModuleReader(Node):
    """Reads any torch module file as a base network: a TorchScript archive (torch.jit.save; no code from the
    file runs), or a whole pickled module (torch.save(model)) when 'trust' is on.

    Give the input's shape; the outputs are found by running one dummy batch. The result is an opaque network:
    Freeze Layers, Set Output Layers and layer nodes (a new head) work on it like on any network. DeepNodes'
    own files (native, TorchScript with a spec, .keras) are read by the Network Reader."""

    outputs = [Out("network", "network", "the network read")]

    class Config(NodeConfig):
        path: str = Field("", description="the torch module file (.pt, .pth, .ts)")
        input_shape: list[limits.Dim | None] = Field(default_factory=lambda: [3, 224, 224],
                                              description="the input's shape without the batch; null = variable")
        input_name: str = Field("input", min_length=1, description="name of the network input")
        dtype: Literal["float32", "float64", "int64", "int32"] = Field("float32", description="input element type")
        trust: bool = Field(False, description="allow reading a pickled module; unpickling runs code from the file, "
                            "so only for files you trust")
        output_activation: OutputActivation = Field("recorded", description=OUTPUT_ACTIVATION_HELP)

    def configure(self, specs):
        from pathlib import Path

        if not self.config.path:
            raise NodeError("option 'path' is empty; set the torch module file to read")
        if not Path(self.config.path).expanduser().exists():
            raise NodeError(f"option 'path': there is no file {Path(self.config.path).expanduser()}")
        return [None]  # the outputs are known once the module ran

    def signature_extra(self) -> str:
        from pathlib import Path

        try:
            st = Path(self.config.path).expanduser().stat()
            return f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            return ""

    def execute(self, inputs, ctx):
        from deepnodes.dl.pretrained import load_torch_module_file

        c = self.config
        try:
            net = load_torch_module_file(c.path, c.input_shape, c.input_name, c.dtype, c.trust)
        except (ValueError, FileNotFoundError) as e:
            raise NodeError(str(e)) from None
        record_output_activation(net, c.output_activation)
        ctx.log(f"read {net.spec.describe()}")
        return [net]
