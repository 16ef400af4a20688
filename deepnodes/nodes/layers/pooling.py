"""Pooling layer nodes. 2D: images (C, H, W); 3D: volumes (C, D, H, W); 1D: sequences (T, F), pooled over T."""
from .base import layer_node

MaxPooling1D = layer_node("MaxPooling1D")
MaxPooling2D = layer_node("MaxPooling2D")
MaxPooling3D = layer_node("MaxPooling3D")
AveragePooling1D = layer_node("AveragePooling1D")
AveragePooling2D = layer_node("AveragePooling2D")
AveragePooling3D = layer_node("AveragePooling3D")
GlobalMaxPooling1D = layer_node("GlobalMaxPooling1D")
GlobalMaxPooling2D = layer_node("GlobalMaxPooling2D")
GlobalMaxPooling3D = layer_node("GlobalMaxPooling3D")
GlobalAveragePooling1D = layer_node("GlobalAveragePooling1D")
GlobalAveragePooling2D = layer_node("GlobalAveragePooling2D")
GlobalAveragePooling3D = layer_node("GlobalAveragePooling3D")
