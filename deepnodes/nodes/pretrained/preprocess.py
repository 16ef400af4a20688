"""Pretrained Image Preprocess: images as a pretrained network expects them."""
from __future__ import annotations

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, limits, node


@node("deepnodes.dl.PretrainedImagePreprocess", name="Pretrained Image Preprocess",
      category="Deep Learning/Pretrained")
class PretrainedImagePreprocess(Node):
    """Prepares images for a pretrained CNN: converts to RGB, resizes the shorter side and crops the centre
    to the network's input size (224 × 224 for EfficientNet-Lite0), scales to [0, 1] and applies the
    network's normalisation (mean and standard deviation from its metadata).

    Connect the network to take its size and normalisation, or set them here. Encoded images of any size
    and image tensor columns (uint8, or float in [0, 1]) are accepted; the output is a (3, H, W) float tensor."""

    inputs = [In("table", "table", "the table with an image or image tensor column"),
              In("network", "network", "the pretrained network whose preprocessing to apply", optional=True)]
    outputs = [Out("table", "table", "the table with the prepared tensor column")]

    class Config(NodeConfig):
        column: str = Field("image", description="the image column (encoded images or an image tensor)")
        output_column: str = Field("", description="name of the tensor column; empty = replace the image column")
        size: limits.ImageSize | None = Field(None, description="[height, width]; empty = the network's input size")
        crop_fraction: float | None = Field(None, gt=0, le=1, description="share of the shorter side kept by the "
                                            "centre crop (1 = no crop); empty = the network's (0.875 for "
                                            "EfficientNet), or 1 without a network")
        mean: list[float] | None = Field(None, description="per-channel mean subtracted after scaling to [0, 1]; "
                                         "empty = the network's")
        std: list[float] | None = Field(None, description="per-channel standard deviation; empty = the network's")

    def _params(self, net_spec, metadata: dict | None):
        c = self.config
        pre = (metadata or {}).get("preprocessing", {})
        size = c.size or pre.get("size")
        if size is None and net_spec is not None and net_spec.inputs and len(net_spec.inputs[0].shape) == 3:
            size = list(net_spec.inputs[0].shape[1:])
        if size is None or any(d is None for d in size):
            raise NodeError("option 'size' is empty and no network with a fixed input size is connected; set the size")
        crop = c.crop_fraction or pre.get("crop_fraction") or 1.0
        mean = c.mean or pre.get("mean") or [0.0, 0.0, 0.0]
        std = c.std or pre.get("std") or [1.0, 1.0, 1.0]
        if len(mean) != 3 or len(std) != 3:
            raise NodeError("options 'mean' and 'std' need three values, one per RGB channel")
        return [int(size[0]), int(size[1])], float(crop), mean, std

    def configure(self, specs):
        table, net = specs
        if net is not None and getattr(net, "port_type", None) != "network":
            raise NodeError("the 'network' input needs a network")
        c = self.config
        size = c.size
        if size is None and net is not None and net.inputs and len(net.inputs[0].shape) == 3:
            size = list(net.inputs[0].shape[1:])
        if size is None and net is None:
            raise NodeError("option 'size' is empty and no network is connected; set the size or connect "
                            "the pretrained network")
        if table is None or size is None:
            return [None]
        from deepnodes.table.image_prep import prepare_images_spec

        return [prepare_images_spec(table, c.column, c.output_column, size)]

    def execute(self, inputs, ctx):
        from deepnodes.table.image_prep import prepare_images

        table, net = inputs
        size, crop, mean, std = self._params(net.spec if net is not None else None,
                                             net.metadata if net is not None else None)
        ctx.progress(None, f"preparing {table.num_rows} images at {size[0]}×{size[1]}")
        return [prepare_images(table, self.config.column, self.config.output_column, size, crop, mean, std)]
