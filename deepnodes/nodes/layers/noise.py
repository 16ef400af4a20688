"""Noise and dropout layer nodes (active only while training)."""
from .base import layer_node

GaussianNoise = layer_node("GaussianNoise")
GaussianDropout = layer_node("GaussianDropout")
AlphaDropout = layer_node("AlphaDropout")
SpatialDropout1D = layer_node("SpatialDropout1D")
SpatialDropout2D = layer_node("SpatialDropout2D")
SpatialDropout3D = layer_node("SpatialDropout3D")
