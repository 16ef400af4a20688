"""torch side of the Transformer layers: position embeddings and the encoder / decoder blocks (Keras-Hub semantics).

The blocks are made of the catalogue's own modules (MultiHeadAttention, LayerNorm, Dense), under Keras-Hub's
submodule names, so the same network built from primitive layer nodes computes the same thing with the same
weights. Masks are (N, T) bool tensors (True = a real step), `masks` holds one per input; `cache` (a dict the
caller owns) carries keys and values between incremental decoding steps, `offset` is the first step's position.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._attention_modules import MultiHeadAttention
from ._core_modules import Dense
from ._normalization_modules import LayerNorm
from ._modules import init_weight_bias


class PositionEmbedding(nn.Module):
    """Adds a learned vector per position (Keras-Hub PositionEmbedding, summed with its input)."""

    def __init__(self, sequence_length: int, features: int):
        super().__init__()
        self.position_embeddings = nn.Parameter(torch.empty(sequence_length, features))

    def forward(self, x, offset: int = 0):
        t = x.shape[1]
        n = self.position_embeddings.shape[0]
        if not torch.jit.is_tracing() and offset + t > n:
            raise ValueError(f"PositionEmbedding has positions 0..{n - 1}; the sequence reaches position "
                             f"{offset + t - 1} (raise sequence_length)")
        return x + self.position_embeddings[offset:offset + t].to(x.dtype)


def sine_table(length, features: int, max_wavelength: float, device=None) -> torch.Tensor:
    """Keras-Hub SinePositionEncoding: sin on even features, cos on odd ones, wavelengths up to max_wavelength."""
    pos = torch.arange(length, device=device).to(torch.float32).unsqueeze(1)
    i = torch.arange(features, device=device)
    timescales = torch.exp((2 * (i // 2)).to(torch.float32) * (-math.log(max_wavelength) / features))
    angles = pos * timescales.unsqueeze(0)
    return torch.where(i % 2 == 0, torch.sin(angles), torch.cos(angles))


class SinePositionEncoding(nn.Module):
    """Adds the fixed sinusoidal encoding of each position (no weights)."""

    def __init__(self, features: int, max_wavelength: float):
        super().__init__()
        self.features, self.max_wavelength = features, max_wavelength

    def forward(self, x, offset: int = 0):
        table = sine_table(offset + x.shape[1], self.features, self.max_wavelength, x.device)[offset:]
        return x + table.to(x.dtype)


class TransformerBlock(nn.Module):
    """Keras-Hub TransformerEncoder (cross=False, causal=False) or TransformerDecoder (self-attention, optional
    cross-attention on an encoder sequence, feed-forward). Submodule names follow Keras-Hub."""

    supports_masks = True

    def __init__(self, hidden: int, enc_dim: int | None, intermediate: int, heads: int, dropout: float,
                 activation: str, eps: float, normalize_first: bool, causal: bool, cross: bool):
        super().__init__()
        key_dim = hidden // heads
        self.normalize_first, self.cross = normalize_first, cross
        self.self_attention = MultiHeadAttention(hidden, hidden, hidden, heads, key_dim, key_dim, hidden, dropout,
                                                 True, causal)
        self.self_attention_layer_norm = LayerNorm(hidden, eps=eps)
        self.self_attention_dropout = nn.Dropout(dropout)
        if cross:
            self.cross_attention = MultiHeadAttention(hidden, enc_dim, enc_dim, heads, key_dim, key_dim, hidden,
                                                      dropout, True, False)
            self.cross_attention_layer_norm = LayerNorm(hidden, eps=eps)
            self.cross_attention_dropout = nn.Dropout(dropout)
        self.feedforward_intermediate_dense = Dense(hidden, intermediate, True, activation)
        self.feedforward_output_dense = Dense(intermediate, hidden, True, "linear")
        self.feedforward_layer_norm = LayerNorm(hidden, eps=eps)
        self.feedforward_dropout = nn.Dropout(dropout)

    def init_(self, config: dict) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                init_weight_bias(m, config)

    def _residual(self, x, norm, drop, fn):
        y = fn(norm(x) if self.normalize_first else x)
        y = drop(y) + x
        return y if self.normalize_first else norm(y)

    def forward(self, x, encoder=None, masks=None, cache: dict | None = None):
        own = masks[0] if masks else None
        enc_mask = masks[1] if masks and len(masks) > 1 else None
        sc = cc = None
        if cache is not None:
            sc = cache.setdefault("self", {})
            cc = cache.setdefault("cross", {"static": True})
        x = self._residual(x, self.self_attention_layer_norm, self.self_attention_dropout,
                           lambda h: self.self_attention(h, h, masks=(own, own), cache=sc))
        if self.cross:
            if encoder is None:
                raise ValueError("this TransformerDecoder was built with an encoder sequence; it got none")
            x = self._residual(x, self.cross_attention_layer_norm, self.cross_attention_dropout,
                               lambda h: self.cross_attention(h, encoder, masks=(own, enc_mask), cache=cc))
        return self._residual(x, self.feedforward_layer_norm, self.feedforward_dropout,
                              lambda h: self.feedforward_output_dense(self.feedforward_intermediate_dense(h)))

