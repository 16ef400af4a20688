"""The object that flows through a `network` port: spec + torch module (built lazily) + metadata.

The module's `forward(*inputs)` takes tensors in `spec.inputs` order (batch first) and returns a tuple in
`spec.outputs` order (a single output is also returned as a 1-tuple by `Network.forward`).

Metadata keys used across the product (all JSON-serialisable):
    seed, history (list of per-epoch dicts), class_names (list[str]), preprocessing (dict, e.g. the
    normalisation of a pretrained CNN), dictionary (token vocabulary), frozen (list of layer names),
    source (where it came from).
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from .spec import NetworkSpec


class Network:
    def __init__(self, spec: NetworkSpec, module: Any = None, metadata: dict | None = None,
                 builder: Callable[[NetworkSpec], Any] | None = None):
        self.spec = spec
        self._module = module
        self._builder = builder
        self.metadata: dict = dict(metadata or {})

    @property
    def module(self):
        """The torch module; built from the spec's layer graph on first use when none was given."""
        if self._module is None:
            seed = self.metadata.get("seed")
            if self._builder is not None:
                import inspect

                takes_seed = "seed" in inspect.signature(self._builder).parameters
                self._module = self._builder(self.spec, seed=seed) if takes_seed and seed is not None \
                    else self._builder(self.spec)
            else:
                from .build import build_module  # the layer catalogue's builder

                self._module = build_module(self.spec, seed=seed)
        return self._module

    @property
    def built(self) -> bool:
        return self._module is not None

    def forward(self, *inputs):
        out = self.module(*inputs)
        return out if isinstance(out, tuple) else (out,)

    def copy(self) -> "Network":
        """A deep copy (a learner trains a copy, so the input network stays as it was)."""
        return Network(self.spec, copy.deepcopy(self._module) if self._module is not None else None,
                       copy.deepcopy(self.metadata), self._builder)

    def __repr__(self) -> str:
        return f"Network({self.spec.describe()})"
