"""The deep-learning layer: network specs (no torch), the layer catalogue, spec -> torch module, shape
inference, training, inference (torch / ONNX Runtime), model formats, decoding and pretrained networks.
No nodes live here. Modules that need torch import it themselves; `spec` stays torch-free."""
