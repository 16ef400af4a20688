"""Merge layer nodes: 2 required + up to 3 optional network inputs whose layer graphs are merged (a layer shared
by the inputs stays one layer; clashing automatic names are renumbered)."""
from .base import layer_node

Add = layer_node("Add")
Subtract = layer_node("Subtract")
Multiply = layer_node("Multiply")
Average = layer_node("Average")
Maximum = layer_node("Maximum")
Minimum = layer_node("Minimum")
Concatenate = layer_node("Concatenate")
Dot = layer_node("Dot")
