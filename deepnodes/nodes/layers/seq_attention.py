"""Attention layer nodes for encoder-decoders: Attention (Luong, dot-product) and AdditiveAttention (Bahdanau).
Inputs: the query (the decoder's sequence), the value (the encoder's sequence) and, optionally, the
encoder's token ids so padding steps are not attended to."""
from .base import layer_node

Attention = layer_node("Attention", title="Attention Layer (Luong)")
AdditiveAttention = layer_node("AdditiveAttention", title="Additive Attention Layer (Bahdanau)")
