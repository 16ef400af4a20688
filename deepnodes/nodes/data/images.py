"""Image to Tensor: encoded images or image tensors → a (C, H, W) tensor column."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from deepnodes.core import In, Node, NodeConfig, Out, limits, node


@node("deepnodes.data.ImageToTensor", name="Image to Tensor", category="Data/Transform")
class ImageToTensor(Node):
    """Decodes images (or takes an image tensor column), optionally resizes them and converts them to
    grayscale or RGB, and scales the values; the result is a channels-first (C, H, W) tensor column."""
    inputs = [In("table", "table", "the table with an image or image tensor column")]
    outputs = [Out("table", "table", "the table with the tensor column")]

    class Config(NodeConfig):
        column: str = Field("image", description="the image column (encoded images or a uint8 tensor)")
        output_column: str = Field("", description="name of the tensor column; empty = replace the image column")
        size: limits.ImageSize | None = Field(None, description="resize to [height, width] (bilinear); empty = keep the size")
        mode: Literal["keep", "grayscale", "rgb"] = Field("keep", description="channels: keep, 1 (grayscale) or 3 (RGB)")
        scale: Literal["none", "unit", "symmetric"] = Field(
            "unit", description="values: none (keep uint8), unit (float32 in [0, 1]), symmetric (float32 in [-1, 1])")

        @field_validator("size")
        @classmethod
        def _size(cls, v):
            if v is not None and (len(v) != 2 or min(v) < 1):
                raise ValueError("size must be [height, width] with both at least 1")
            return v

    def configure(self, specs):
        from deepnodes.table.images import image_to_tensor_spec

        c = self.config
        return [image_to_tensor_spec(specs[0], c.column, c.output_column, c.size, c.mode, c.scale)]

    def execute(self, inputs, ctx):
        from deepnodes.table.images import image_to_tensor

        c = self.config
        ctx.progress(None, f"converting {inputs[0].num_rows} images")
        return [image_to_tensor(inputs[0], c.column, c.output_column, c.size, c.mode, c.scale)]
