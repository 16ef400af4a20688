"""Pretrained networks, network surgery (freeze layers, choose outputs) and image preparation for them."""
