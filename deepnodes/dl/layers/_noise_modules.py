"""Torch modules of the noise and dropout (noise.py); imported only by `build` functions."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class GaussianNoise(nn.Module):
    def __init__(self, stddev: float):
        super().__init__()
        self.stddev = stddev

    def forward(self, x):
        if self.training and self.stddev > 0:
            return x + torch.randn_like(x) * self.stddev
        return x


class GaussianDropout(nn.Module):
    def __init__(self, rate: float):
        super().__init__()
        self.std = math.sqrt(rate / (1.0 - rate)) if rate < 1 else 0.0

    def forward(self, x):
        if self.training and self.std > 0:
            return x * (1.0 + torch.randn_like(x) * self.std)
        return x


class SpatialDropout1D(nn.Module):
    """Drops whole features of a (N, T, F) sequence (the same ones at every step)."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        return F.dropout1d(x.transpose(1, 2), self.rate, True).transpose(1, 2)
