"""MultiHeadAttention layer node: query, value and optional key networks (T, F)."""
from .base import layer_node

MultiHeadAttention = layer_node("MultiHeadAttention")
