"""Torch modules of the core layers (core.py); imported only by `build` functions."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._modules import activation


class Dense(nn.Linear):
    """Linear map on the last axis plus an optional activation."""

    def __init__(self, in_features: int, units: int, bias: bool, act: str):
        super().__init__(in_features, units, bias=bias)
        self.act = activation(act)

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        return y if self.act is None else self.act(y)


class Flatten(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class Reshape(nn.Module):
    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.shape)


class Permute(nn.Module):
    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = (0,) + tuple(dims)

    def forward(self, x):
        return x.permute(self.dims)


class RepeatVector(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x):  # (N, F) -> (N, n, F)
        return x.unsqueeze(1).expand(-1, self.n, -1)


class Masking(nn.Module):
    """Zeroes the timesteps whose features all equal `mask_value`."""

    def __init__(self, mask_value: float):
        super().__init__()
        self.mask_value = mask_value

    def compute_mask(self, x):  # (N, T): True at the steps that are not padding
        return (x != self.mask_value).any(dim=-1)

    def forward(self, x):  # (N, T, F)
        return x * self.compute_mask(x).unsqueeze(-1).to(x.dtype)


class Act(nn.Module):
    def __init__(self, name: str, dim: int = -1):
        super().__init__()
        self.fn = activation(name, dim) or nn.Identity()

    def forward(self, x):
        return self.fn(x)


class Cast(nn.Module):
    """An Input layer: casts to the declared dtype when needed (so an int64 column feeds an int model)."""

    def __init__(self, dtype: str):
        super().__init__()
        self.dtype = getattr(torch, dtype)

    def forward(self, x):
        return x if x.dtype == self.dtype else x.to(self.dtype)
