"""The dictionary travels with the network: a dictionary connected to an Embedding or Dense layer node sets that
layer's size (input_dim / units) and is written into the network's metadata ("dictionaries", by layer name, as
JSON: data, never code), so that a trained network carries it to the Text Generator, the Sequence Decoder and the
scorer, and into saved network files."""
from __future__ import annotations

import base64

from .text import Vocabulary


def to_json(vocab: Vocabulary) -> dict:
    d = vocab.to_json()
    if vocab.sp_model is not None:
        d["sp_model"] = base64.b64encode(vocab.sp_model).decode("ascii")
    return d


def from_json(d: dict) -> Vocabulary:
    sp = d.get("sp_model")
    return Vocabulary(d["tokens"], d.get("counts"), d["level"], d.get("lowercase", False),
                      base64.b64decode(sp) if sp else None)


def metadata(layer: str, vocab: Vocabulary) -> dict:
    """The metadata a layer node adds to its network."""
    return {"dictionaries": {layer: to_json(vocab)}}


def carried(network, layers: list[str] | None = None) -> Vocabulary | None:
    """The dictionary carried for the first of `layers` that has one (None: the only one carried), or None."""
    ds = network.metadata.get("dictionaries") or {}
    if layers is None:
        return from_json(next(iter(ds.values()))) if len(ds) == 1 else None
    for name in layers:
        if name in ds:
            return from_json(ds[name])
    return None
