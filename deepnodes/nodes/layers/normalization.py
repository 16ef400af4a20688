"""Normalization layer nodes: BatchNormalization, LayerNormalization."""
from .base import layer_node

BatchNormalization = layer_node("BatchNormalization")
LayerNormalization = layer_node("LayerNormalization")
