"""Torch modules of the convolutions (conv.py); imported only by `build` functions."""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn

from ._modules import activation


def _pad_for(x, ks, ss, ds, nd):
    """'same' padding (Keras rule, extra after) for the last nd axes of x -> F.pad argument list."""
    pads = []
    for i in reversed(range(nd)):
        n = x.shape[x.dim() - nd + i]
        total = max((math.ceil(n / ss[i]) - 1) * ss[i] + (ks[i] - 1) * ds[i] + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


class Conv(nn.Module):
    """ConvNd with Keras 'valid'/'same' padding and an activation. `seq` = 1D on (N, T, F) sequences."""

    def __init__(self, nd: int, in_ch: int, filters: int, k, s, d, padding: str, groups: int, bias: bool, act: str,
                 seq: bool = False, act_dim: int = 1):
        super().__init__()
        cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[nd]
        self.nd, self.k, self.s, self.d, self.seq = nd, tuple(k), tuple(s), tuple(d), seq
        sym = padding == "same" and all(st == 1 and (kk - 1) * dd % 2 == 0 for kk, st, dd in zip(k, s, d))
        self.dynamic_pad = padding == "same" and not sym
        pad = tuple((kk - 1) * dd // 2 for kk, dd in zip(k, d)) if sym else 0
        self.conv = cls(in_ch, filters, tuple(k), stride=tuple(s), padding=pad, dilation=tuple(d), groups=groups,
                        bias=bias)
        self.act = activation(act, act_dim if not seq else -1)

    def forward(self, x):
        if self.seq:
            x = x.transpose(1, 2)
        if self.dynamic_pad:
            x = F.pad(x, _pad_for(x, self.k, self.s, self.d, self.nd))
        y = self.conv(x)
        if self.seq:
            y = y.transpose(1, 2)
        return y if self.act is None else self.act(y)


class SeparableConv(nn.Module):
    def __init__(self, nd, in_ch, filters, k, s, d, padding, depth_multiplier, bias, act, seq=False):
        super().__init__()
        self.depthwise = Conv(nd, in_ch, in_ch * depth_multiplier, k, s, d, padding, in_ch, False, "linear")
        self.pointwise = Conv(nd, in_ch * depth_multiplier, filters, (1,) * nd, (1,) * nd, (1,) * nd, "valid", 1, bias,
                              act)
        self.seq = seq

    def forward(self, x):
        if self.seq:
            x = x.transpose(1, 2)
        y = self.pointwise(self.depthwise(x))
        return y.transpose(1, 2) if self.seq else y


class ConvTranspose(nn.Module):
    def __init__(self, nd, in_ch, filters, k, s, d, padding, bias, act, seq=False):
        super().__init__()
        cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[nd]
        self.conv = cls(in_ch, filters, tuple(k), stride=tuple(s), dilation=tuple(d), bias=bias)
        self.nd, self.k, self.s, self.d, self.same, self.seq = nd, tuple(k), tuple(s), tuple(d), padding == "same", seq
        self.act = activation(act, 1 if not seq else -1)

    def forward(self, x):
        if self.seq:
            x = x.transpose(1, 2)
        y = self.conv(x)
        if self.same:  # crop (or pad) the 'valid' result to in * stride, Keras-style
            pads = []
            for i in reversed(range(self.nd)):
                total = (self.k[i] - 1) * self.d[i] + 1 - self.s[i]
                lo = total // 2 if total > 0 else 0
                hi = total - lo if total > 0 else total
                pads += [-lo, -hi]
            if any(pads):
                y = F.pad(y, pads)
        if self.seq:
            y = y.transpose(1, 2)
        return y if self.act is None else self.act(y)
