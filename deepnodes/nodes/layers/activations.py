"""Activation layer nodes with parameters: ELU, LeakyReLU, PReLU, ReLU, Softmax."""
from .base import layer_node

ELU = layer_node("ELU")
LeakyReLU = layer_node("LeakyReLU")
PReLU = layer_node("PReLU")
ReLU = layer_node("ReLU")
Softmax = layer_node("Softmax")
