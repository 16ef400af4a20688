"""Wrapper layer nodes: TimeDistributed (Bidirectional lives with the recurrent layers)."""
from .base import layer_node

TimeDistributed = layer_node("TimeDistributed")
