"""Torch modules of the merge layers (merge.py); imported only by `build` functions."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Merge(nn.Module):
    def __init__(self, op: str):
        super().__init__()
        self.op = op

    def forward(self, *xs):
        op = self.op
        y = xs[0]
        if op == "subtract":
            return xs[0] - xs[1]
        for x in xs[1:]:
            if op in ("add", "average"):
                y = y + x
            elif op == "multiply":
                y = y * x
            elif op == "maximum":
                y = torch.maximum(y, x)
            elif op == "minimum":
                y = torch.minimum(y, x)
        if op == "average":
            y = y / len(xs)
        return y


class Concatenate(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim)


class Dot(nn.Module):
    """Batch dot product along axes (a_axis, b_axis) (indices with batch = 0), optionally of l2-normalised inputs."""

    def __init__(self, a_axis: int, b_axis: int, normalize: bool):
        super().__init__()
        self.a, self.b, self.normalize = a_axis, b_axis, normalize

    def forward(self, x, y):
        if self.normalize:
            x = F.normalize(x, dim=self.a)
            y = F.normalize(y, dim=self.b)
        if x.dim() == 2:
            return (x * y).sum(dim=1, keepdim=True)
        xa = x.movedim(self.a, -1)  # (N, P, K)
        yb = y.movedim(self.b, 1)  # (N, K, Q)
        return torch.bmm(xa, yb)
