"""Torch modules of the the embedding layer (embedding.py); imported only by `build` functions."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Embedding(nn.Embedding):
    def compute_mask(self, x):  # mask_zero: id 0 is padding
        return x != 0

    def forward(self, x):
        if x.dtype not in (torch.int64, torch.int32):
            x = x.long()
        return F.embedding(x, self.weight)
