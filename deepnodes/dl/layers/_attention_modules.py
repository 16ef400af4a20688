"""torch side of multi-head attention: the one place that builds attention masks, and the Keras-style module.

Masks are boolean (N, T) tensors, True at real steps. `attention_bias` merges a key padding mask with the causal
mask into one additive bias (N or 1, 1, Tq, Tk): 0 where a query may look, -1e9 elsewhere (a finite value, so a
query row with no visible key gives uniform weights instead of NaN, as in Keras). `offset` is the absolute
position of the first query (incremental decoding with a key/value cache: the rectangular causal mask).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NEG = -1e9


def attention_bias(tq: int, tk: int, key_mask: torch.Tensor | None, causal: bool, offset: int = 0,
                   device=None, dtype=torch.float32) -> torch.Tensor | None:
    """The additive attention bias (see the module docstring), None when nothing is hidden."""
    allowed = None
    if causal:
        q = torch.arange(tq, device=device).unsqueeze(1) + offset
        k = torch.arange(tk, device=device).unsqueeze(0)
        allowed = (k <= q).view(1, 1, tq, tk)
    if key_mask is not None:
        km = key_mask.bool().view(key_mask.shape[0], 1, 1, tk)
        allowed = km if allowed is None else allowed & km
    if allowed is None:
        return None
    zero = torch.zeros((), dtype=dtype, device=device)
    return torch.where(allowed, zero, torch.full((), NEG, dtype=dtype, device=device))


def attend(q, k, v, bias, dropout: float, training: bool, need_weights: bool):
    """Scaled dot-product attention on (N, H, T, D) heads; returns (out, weights or None)."""
    p = dropout if training else 0.0
    if not need_weights:
        if bias is not None:
            bias = bias.expand(q.shape[0], q.shape[1], q.shape[2], k.shape[2])
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p), None
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias
    w = torch.softmax(scores, dim=-1)
    wd = F.dropout(w, p) if p > 0 else w
    return wd @ v, w


class MultiHeadAttention(nn.Module):
    """Keras-style multi-head attention: inputs (query, value[, key]) of shape (N, T, F).

    `masks` (one (N, T) bool mask or None per input) hides padded keys (the value's mask, as in Keras);
    `cache` (a dict, incremental decoding) holds the keys and values of earlier steps: the new ones are appended
    and the causal mask is offset by the cached length; a cache with "static": True (cross-attention on a fixed
    encoder sequence) keeps the keys and values computed on its first call. With `return_scores` the output is
    (y, weights (N, heads, Tq, Tk)).
    """

    supports_masks = True

    def __init__(self, fq: int, fv: int, fk: int, heads: int, key_dim: int, value_dim: int, out_dim: int,
                 dropout: float, bias: bool, causal: bool, return_scores: bool = False):
        super().__init__()
        self.query = nn.Linear(fq, heads * key_dim, bias=bias)
        self.key = nn.Linear(fk, heads * key_dim, bias=bias)
        self.value = nn.Linear(fv, heads * value_dim, bias=bias)
        self.output = nn.Linear(heads * value_dim, out_dim, bias=bias)
        self.heads, self.key_dim, self.value_dim, self.dropout, self.causal = heads, key_dim, value_dim, dropout, causal
        self.return_scores = return_scores

    def _heads(self, t, d):
        return t.reshape(t.shape[0], t.shape[1], self.heads, d).transpose(1, 2)

    def forward(self, query, value, key=None, masks=None, cache: dict | None = None, causal: bool | None = None):
        if key is None:
            key = value
        key_mask = masks[1] if masks is not None and len(masks) > 1 else None
        n, tq = query.shape[0], query.shape[1]
        q = self._heads(self.query(query), self.key_dim)
        offset = 0
        if cache is not None and cache.get("static") and "k" in cache:  # cross-attention: keys computed once
            k, v = cache["k"], cache["v"]
            key_mask = cache.get("mask", key_mask)
        else:
            k = self._heads(self.key(key), self.key_dim)
            v = self._heads(self.value(value), self.value_dim)
        if cache is not None and cache.get("static"):
            cache["k"], cache["v"] = k, v
            if key_mask is not None:
                cache["mask"] = key_mask
        elif cache is not None:
            if "k" in cache:
                offset = cache["k"].shape[2]
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
                if key_mask is not None and "mask" in cache:
                    key_mask = torch.cat([cache["mask"], key_mask], dim=1)
            cache["k"], cache["v"] = k, v
            if key_mask is not None:
                cache["mask"] = key_mask
        is_causal = self.causal if causal is None else causal
        bias = attention_bias(tq, k.shape[2], key_mask, is_causal, offset, q.device, q.dtype)
        y, w = attend(q, k, v, bias, self.dropout, self.training, self.return_scores)
        y = self.output(y.transpose(1, 2).reshape(n, tq, self.heads * self.value_dim))
        return (y, w) if self.return_scores else y
