"""Torch modules of the padding, cropping, up-sampling (reshaping.py); imported only by `build` functions."""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn


class Pad(nn.Module):
    """Zero padding (positive) or cropping (negative) of the spatial axes; pads in F.pad order."""

    def __init__(self, pads: list[int], seq: bool = False):
        super().__init__()
        self.pads, self.seq = list(pads), seq

    def forward(self, x):
        if self.seq:
            return F.pad(x.transpose(1, 2), self.pads).transpose(1, 2)
        return F.pad(x, self.pads)


class UpSample(nn.Module):
    def __init__(self, size: tuple[int, ...], mode: str, seq: bool = False):
        super().__init__()
        self.size, self.mode, self.seq = tuple(float(s) for s in size), mode, seq

    def forward(self, x):
        if self.seq:  # (N, T, F): repeat each step
            return x.repeat_interleave(int(self.size[0]), dim=1)
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=self.size, mode="nearest")
        return F.interpolate(x, scale_factor=self.size, mode=self.mode, align_corners=False)



class Crop(nn.Module):
    """Crops (lo, hi) from each of the last nd axes (or from T of a (N, T, F) sequence)."""

    def __init__(self, crops: list[tuple[int, int]], seq: bool = False):
        super().__init__()
        self.crops, self.seq = [tuple(c) for c in crops], seq

    def forward(self, x):
        if self.seq:
            lo, hi = self.crops[0]
            return x[:, lo:x.shape[1] - hi]
        nd = len(self.crops)
        idx = [slice(None)] * (x.dim() - nd)
        for i, (lo, hi) in enumerate(self.crops):
            idx.append(slice(lo, x.shape[x.dim() - nd + i] - hi))
        return x[tuple(idx)]
