"""Images prepared for a pretrained CNN: RGB, shorter side resized and centre-cropped to the network's
input size, values scaled to [0, 1] and normalised with the network's mean and standard deviation.

The channel conversion and vectorised resizing are `deepnodes.table.images`' (the Image to Tensor node's);
what this adds is the resize-then-centre-crop of ImageNet-style evaluation and the normalisation.

    t = prepare_images(table, "image", size=(224, 224), crop_fraction=0.875, mean=(0.485, 0.456, 0.406),
                       std=(0.229, 0.224, 0.225))                                  # doctest: +SKIP
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

from .arrow import set_column, spec_of, tensor_array, to_numpy
from .images import convert_channels, open_image, resize_batch
from .spec import ColumnError, ColumnSpec, TableSpec


def _check(size: Sequence[int], crop_fraction: float, mean: Sequence[float], std: Sequence[float]) -> None:
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"option 'size' is {list(size)}; it must be [height, width] with both at least 1")
    if not 0 < crop_fraction <= 1:
        raise ValueError(f"option 'crop_fraction' is {crop_fraction}; it must be in (0, 1]")
    if len(mean) != 3 or len(std) != 3:
        raise ValueError("options 'mean' and 'std' need three values, one per RGB channel")
    if min(std) <= 0:
        raise ValueError("option 'std' must hold positive values")


def prepare_images_spec(spec: TableSpec, column: str, output_column: str = "",
                        size: Sequence[int] = (224, 224)) -> TableSpec:
    from .ops import require_column

    col = require_column(spec, column, "column", ("image", "tensor"))
    if col.kind == "tensor":
        shape = tuple(col.shape or ())
        if not (len(shape) == 2 or (len(shape) == 3 and shape[0] in (1, 3, 4))):
            raise ColumnError(f"column '{column}' (option 'column') has shape {list(shape)}; an image tensor is "
                              "(H, W) or (C, H, W) with 1, 3 or 4 channels")
    return spec.with_columns([ColumnSpec(output_column or column, "tensor", "float", (3, int(size[0]), int(size[1])))])


def _resize_shape(h: int, w: int, size: Sequence[int], crop_fraction: float) -> tuple[int, int]:
    """Size to resize (h, w) to so that a centre crop of `size` is `crop_fraction` of the shorter side."""
    th, tw = int(size[0]), int(size[1])
    scale = max(th / (h * crop_fraction), tw / (w * crop_fraction))
    return max(th, int(round(h * scale))), max(tw, int(round(w * scale)))


def _crop(x: np.ndarray, size: Sequence[int]) -> np.ndarray:
    th, tw = int(size[0]), int(size[1])
    h, w = x.shape[-2:]
    top, left = (h - th) // 2, (w - tw) // 2
    return x[..., top:top + th, left:left + tw]


def prepare_images(table: pa.Table, column: str, output_column: str = "", size: Sequence[int] = (224, 224),
                   crop_fraction: float = 0.875, mean: Sequence[float] = (0.0, 0.0, 0.0),
                   std: Sequence[float] = (1.0, 1.0, 1.0)) -> pa.Table:
    """Replace (or add) a (3, H, W) float32 column: RGB, resized and centre-cropped, (x / 255 - mean) / std.

    Encoded images may have any size (each is resized on its own); an image tensor column is resized in one
    vectorised step. uint8 values are divided by 255; float tensors are taken as already in [0, 1]."""
    _check(size, crop_fraction, mean, std)
    spec = spec_of(table)
    prepare_images_spec(spec, column, output_column, size)
    th, tw = int(size[0]), int(size[1])
    if spec.column(column).kind == "tensor":
        x = to_numpy(table.column(column))
        if x.ndim == 3:
            x = x[:, None]
        x = convert_channels(x, "rgb")
        if len(x):
            x = _crop(resize_batch(x, _resize_shape(x.shape[2], x.shape[3], size, crop_fraction)), size)
        out = x.astype(np.float32) * np.float32(1 / 255) if x.dtype == np.uint8 else x.astype(np.float32)
    else:
        from PIL import Image

        col = table.column(column)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        out = np.empty((table.num_rows, 3, th, tw), dtype=np.float32)
        for i, data in enumerate(col.to_pylist()):
            if data is None:
                raise ValueError(f"column '{column}' (option 'column') has a missing image in row {i}")
            im = open_image(data, column, i)
            try:
                im = im.convert("RGB")
            except Exception:  # noqa: BLE001 - PIL raises many types for broken files
                raise ValueError(f"column '{column}' (option 'column') holds bytes in row {i} that are not an "
                                 "image PIL can read") from None
            rh, rw = _resize_shape(im.height, im.width, size, crop_fraction)
            im = im.resize((rw, rh), Image.BILINEAR)
            a = np.asarray(im, dtype=np.float32).transpose(2, 0, 1)
            out[i] = _crop(a, size) * np.float32(1 / 255)
    out = np.ascontiguousarray(out)
    out -= np.asarray(mean, np.float32)[:, None, None]
    out /= np.asarray(std, np.float32)[:, None, None]
    return set_column(table, output_column or column, tensor_array(out))
