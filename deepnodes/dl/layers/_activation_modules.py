"""Torch modules of the activation layers (activations.py); imported only by `build` functions."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._modules import init_


class ReLU(nn.Module):
    def __init__(self, max_value, negative_slope: float, threshold: float):
        super().__init__()
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def forward(self, x):
        if self.negative_slope == 0 and self.threshold == 0:
            y = F.relu(x)
        else:
            y = torch.where(x >= self.threshold, x, self.negative_slope * (x - self.threshold))
        if self.max_value is not None:
            y = y.clamp(max=self.max_value)
        return y


class PReLU(nn.Module):
    def __init__(self, shape: tuple[int, ...], init: str):
        super().__init__()
        self.alpha = nn.Parameter(torch.empty(shape))
        init_(self.alpha, init)

    def forward(self, x):
        return F.relu(x) - self.alpha * F.relu(-x)
