"""The image preparation DeepNodes and its bundles share (numpy and pillow only, no DeepNodes imports): the
channel conversion and resizing of one decoded PIL image, the channel conversion of an image tensor batch and
the value scales. `deepnodes.table.images` (Image to Tensor) calls these, and `deepnodes export` copies this
file into every bundle beside predict.py, so a bundle prepares images exactly as the workflow did."""
from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as PIL's convert('L')


def pil_to_chw(im, mode: str, size=None) -> np.ndarray:
    """A loaded PIL image -> a (C, H, W) uint8 array: grayscale / RGB (or L, RGB, RGBA kept), resized
    (bilinear) to `size` = [height, width] when given."""
    from PIL import Image

    pil_mode = {"grayscale": "L", "rgb": "RGB"}.get(mode)
    if pil_mode is None:
        if im.mode not in ("L", "RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in im.mode else ("L" if im.mode in ("1", "I", "I;16", "F") else "RGB"))
    elif im.mode != pil_mode:
        im = im.convert(pil_mode)
    if size is not None and im.size != (size[1], size[0]):
        im = im.resize((int(size[1]), int(size[0])), Image.BILINEAR)
    a = np.asarray(im)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def convert_channels(x: np.ndarray, mode: str) -> np.ndarray:
    """(N, C, H, W) → grayscale (luma) or RGB (gray repeated / alpha dropped), vectorised."""
    c = x.shape[1]
    if mode == "grayscale" and c != 1:
        rgb = x[:, :3].astype(np.float32)
        g = np.tensordot(rgb, LUMA, axes=([1], [0]))[:, None]
        return np.clip(np.rint(g), 0, 255).astype(x.dtype) if x.dtype == np.uint8 else g.astype(x.dtype)
    if mode == "rgb":
        if c == 1:
            return np.repeat(x, 3, axis=1)
        if c == 4:
            return x[:, :3]
    return x


def scale_values(x: np.ndarray, scale: str) -> np.ndarray:
    if scale == "none":
        return x
    y = x.astype(np.float32)
    if scale == "unit":
        y *= np.float32(1 / 255)
    elif scale == "symmetric":
        y *= np.float32(1 / 127.5)
        y -= 1.0
    return y
