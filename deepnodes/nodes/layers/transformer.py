"""Transformer layer nodes: position embeddings (learned, sinusoidal) and the encoder and decoder blocks on
sequences (T, F). Connect an encoder's output to a decoder's second input for cross-attention."""
from .base import layer_node

PositionEmbedding = layer_node("PositionEmbedding")
SinePositionEncoding = layer_node("SinePositionEncoding")
TransformerEncoder = layer_node("TransformerEncoder")
TransformerDecoder = layer_node("TransformerDecoder")
