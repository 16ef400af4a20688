"""Torch modules of the normalization (normalization.py); imported only by `build` functions."""
from __future__ import annotations

from torch import nn


class BatchNorm(nn.Module):
    """BatchNorm over axis `axis` (index without batch) of an input of rank `rank` (without batch)."""

    def __init__(self, rank: int, axis: int, n: int, eps: float, momentum: float, center: bool, scale: bool):
        super().__init__()
        self.move = axis != 0 or rank > 4
        # the channel axis in place: torch's own BatchNorm of that rank; any other axis: moved to 1, as (N, C, L)
        cls = nn.BatchNorm1d if self.move else {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d,
                                                 4: nn.BatchNorm3d}[rank]
        self.axis = axis + 1
        self.bn = cls(n, eps=eps, momentum=momentum, affine=True)
        if not center:
            self.bn.bias.requires_grad_(False)
        if not scale:
            self.bn.weight.requires_grad_(False)

    def forward(self, x):
        if not self.move:
            return self.bn(x)
        y = self.bn(x.movedim(self.axis, 1).reshape(x.shape[0], x.shape[self.axis], -1))
        moved_shape = x.movedim(self.axis, 1).shape
        return y.reshape(moved_shape).movedim(1, self.axis)


class LayerNorm(nn.LayerNorm):
    pass
