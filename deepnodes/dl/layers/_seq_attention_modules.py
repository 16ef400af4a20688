"""torch modules of the Keras-style Attention (Luong, dot-product) and AdditiveAttention (Bahdanau) layers."""
from __future__ import annotations

import torch
from torch import nn


class SeqAttention(nn.Module):
    """Keras `Attention` / `AdditiveAttention`: query (N, Tq, D), value (N, Tv, D) (also the key) and an
    optional (N, Tv) tensor of value token ids whose 0s (padding) are not attended to."""

    def __init__(self, dim: int, additive: bool, use_scale: bool, score_mode: str, dropout: float,
                 return_scores: bool):
        super().__init__()
        self.additive, self.score_mode, self.dropout, self.return_scores = additive, score_mode, dropout, return_scores
        if additive:
            # Keras: a learned vector scale, glorot_uniform, used inside the sum of tanh(q + k)
            self.scale = nn.Parameter(torch.empty(dim)) if use_scale else None
            if self.scale is not None:
                bound = (6.0 / (1 + dim)) ** 0.5
                nn.init.uniform_(self.scale, -bound, bound)
        else:
            self.scale = nn.Parameter(torch.ones(())) if use_scale else None
            self.concat_score_weight = nn.Parameter(torch.ones(())) if score_mode == "concat" else None

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:  # (N, Tq, Tv)
        if self.additive:
            t = torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))  # (N, Tq, Tv, D)
            return (t * self.scale).sum(-1) if self.scale is not None else t.sum(-1)
        if self.score_mode == "concat":
            t = torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))
            s = t.sum(-1)
            return self.concat_score_weight * (s * self.scale if self.scale is not None else s)
        s = torch.bmm(q, k.transpose(1, 2))
        return s * self.scale if self.scale is not None else s

    def forward(self, query, value, value_ids=None):
        s = self.scores(query, value)
        if value_ids is not None:
            s = s.masked_fill((value_ids == 0).unsqueeze(1), torch.finfo(s.dtype).min)
        w = torch.softmax(s, dim=-1)
        if self.dropout > 0 and self.training:
            w = nn.functional.dropout(w, self.dropout)
        out = torch.bmm(w, value)
        return (out, w) if self.return_scores else out
