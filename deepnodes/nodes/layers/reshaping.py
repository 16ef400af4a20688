"""Reshaping layer nodes: Cropping, UpSampling, ZeroPadding 1D (sequences (T, F)), 2D (images (C, H, W)),
3D (volumes (C, D, H, W))."""
from .base import layer_node

Cropping1D = layer_node("Cropping1D")
Cropping2D = layer_node("Cropping2D")
Cropping3D = layer_node("Cropping3D")
UpSampling1D = layer_node("UpSampling1D")
UpSampling2D = layer_node("UpSampling2D")
UpSampling3D = layer_node("UpSampling3D")
ZeroPadding1D = layer_node("ZeroPadding1D")
ZeroPadding2D = layer_node("ZeroPadding2D")
ZeroPadding3D = layer_node("ZeroPadding3D")
