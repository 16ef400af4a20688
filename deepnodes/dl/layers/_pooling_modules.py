"""Torch modules of the pooling (pooling.py); imported only by `build` functions."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._conv_modules import _pad_for


class Pool(nn.Module):
    post: nn.Module | None = None  # an activation the Learner moved here from the convolution before (dl/speed.py)

    def __init__(self, nd: int, mode: str, k, s, padding: str, seq: bool = False):
        super().__init__()
        self.nd, self.mode, self.k, self.s, self.same, self.seq = nd, mode, tuple(k), tuple(s), padding == "same", seq
        self.fn = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d, ("max", 3): F.max_pool3d,
                   ("avg", 1): F.avg_pool1d, ("avg", 2): F.avg_pool2d, ("avg", 3): F.avg_pool3d}[(mode, nd)]

    def forward(self, x):
        if self.seq:
            x = x.transpose(1, 2)
        if self.same:
            pads = _pad_for(x, self.k, self.s, (1,) * self.nd, self.nd)
            if any(pads):
                if self.mode == "max":
                    y = self.fn(F.pad(x, pads, value=float("-inf")), self.k, self.s)
                else:  # average over the real values only
                    ones = torch.ones_like(x[:1, :1])
                    y = self.fn(F.pad(x, pads), self.k, self.s) / self.fn(F.pad(ones, pads), self.k, self.s)
            else:
                y = self.fn(x, self.k, self.s)
        else:
            y = self.fn(x, self.k, self.s)
        if self.post is not None:
            y = self.post(y)
        return y.transpose(1, 2) if self.seq else y


class GlobalPool(nn.Module):
    def __init__(self, mode: str, dims: tuple[int, ...], keepdims: bool):
        super().__init__()
        self.mode, self.dims, self.keepdims = mode, dims, keepdims

    supports_masks = True

    def forward(self, x, masks=None):
        mask = masks[0] if masks else None
        if mask is not None and self.dims == (1,) and x.dim() == 3:  # sequences: padded steps do not count
            m = mask.unsqueeze(-1)
            if self.mode == "max":
                return x.masked_fill(~m, float("-inf")).amax(dim=1, keepdim=self.keepdims)
            return (x * m).sum(dim=1, keepdim=self.keepdims) / m.sum(dim=1, keepdim=self.keepdims).clamp_min(1)
        if self.mode == "max":
            return x.amax(dim=self.dims, keepdim=self.keepdims)
        return x.mean(dim=self.dims, keepdim=self.keepdims)
