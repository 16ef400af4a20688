"""Torch modules of the wrappers (wrappers.py); imported only by `build` functions."""
from __future__ import annotations

from torch import nn


class TimeDistributed(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.layer = inner

    def forward(self, x):  # (N, T, ...) -> inner on (N*T, ...) -> (N, T, ...)
        n, t = x.shape[0], x.shape[1]
        y = self.layer(x.reshape((n * t,) + tuple(x.shape[2:])))
        if isinstance(y, tuple):
            y = y[0]
        return y.reshape((n, t) + tuple(y.shape[1:]))
