"""The layer catalogue: one module per concept, each registering its layer kinds with `@register`.

`CATALOGUE` maps a kind ("Dense", "Conv2D", ...) to its `Layer` class; `load_all()` imports every module of
this package, so a new layer kind is one new module here. Nothing here imports torch at import time.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import CATALOGUE, Layer, Opt, get_layer, register

_loaded = False


def load_all() -> dict:
    """Import every layer module (once) and return the catalogue."""
    global _loaded
    if not _loaded:
        _loaded = True
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_") and info.name != "base":
                importlib.import_module(f"{__name__}.{info.name}")
    return CATALOGUE


def regularization_loss(module):
    """Sum of the layers' l1/l2 penalties for the training loss, or None when no layer declares any."""
    from ._modules import regularization_loss as f

    return f(module)


__all__ = ["CATALOGUE", "Layer", "Opt", "get_layer", "register", "load_all", "regularization_loss"]
