"""Embedding layer node: token ids (T,) -> vectors (T, output_dim)."""
from .base import layer_node

Embedding = layer_node("Embedding", dictionary_option="input_dim")
