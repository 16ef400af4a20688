"""Convolution layer nodes. 2D: images (C, H, W); 3D: volumes (C, D, H, W); 1D: sequences (T, F)."""
from .base import layer_node

Conv1D = layer_node("Conv1D")
Conv2D = layer_node("Conv2D")
Conv3D = layer_node("Conv3D")
SeparableConv1D = layer_node("SeparableConv1D")
SeparableConv2D = layer_node("SeparableConv2D")
DepthwiseConv2D = layer_node("DepthwiseConv2D")
Conv1DTranspose = layer_node("Conv1DTranspose")
Conv2DTranspose = layer_node("Conv2DTranspose")
Conv3DTranspose = layer_node("Conv3DTranspose")
