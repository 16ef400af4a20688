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
import threading
from typing import Any, Callable

from .spec import NetworkSpec


def copy_module(module):
    """A deep copy of a torch module; TorchScript parts are copied by saving and loading them (a deep-copied
    ScriptModule's parameters are not leaf tensors, so they could not be frozen or trained)."""
    import io

    import torch

    memo: dict = {}

    def visit(m):
        if isinstance(m, torch.jit.ScriptModule):
            buf = io.BytesIO()
            torch.jit.save(m, buf)
            buf.seek(0)
            memo[id(m)] = torch.jit.load(buf, map_location="cpu")
            return
        for child in m.children():
            visit(child)

    if isinstance(module, torch.nn.Module):
        visit(module)
    return copy.deepcopy(module, memo)


class Network:
    def __init__(self, spec: NetworkSpec, module: Any = None, metadata: dict | None = None,
                 builder: Callable[[NetworkSpec], Any] | None = None):
        self.spec = spec
        self._module = module
        self._builder = builder
        self.metadata: dict = dict(metadata or {})
        self._lock = threading.RLock()
        #: bumped by `weights_changed`: what is derived from the weights (dl/infer.py's ONNX export) is redone
        self.weights_version = 0

    @property
    def module(self):
        """The torch module; built from the spec's layer graph on first use when none was given (once, under
        the network's lock, with the recorded seed: see `build`)."""
        if self._module is None:
            self.build()
        return self._module

    def build(self, seed: int | None = None):
        """Build the module if it is not built yet: once, under this network's lock, with `seed` (default: the
        recorded seed). A builder that takes a seed seeds each layer itself; any other builder (a user's
        function, a rebuild from a file) runs with torch's global generator seeded, under the process-wide
        random lock, so what runs beside it cannot change its weights."""
        with self._lock:
            if self._module is not None:
                return self._module
            from .rng import seeded

            seed = self.metadata.get("seed") if seed is None else seed
            if self._builder is not None:
                import inspect

                try:
                    takes_seed = "seed" in inspect.signature(self._builder).parameters
                except (TypeError, ValueError):
                    takes_seed = False
                if takes_seed and seed is not None:
                    module = self._builder(self.spec, seed=seed)
                else:
                    with seeded(seed):
                        module = self._builder(self.spec)
            else:
                from .build import build_module  # the layer catalogue's builder

                module = build_module(self.spec, seed=seed)
            self._module = module
        return self._module

    def weights_changed(self) -> None:
        """Record that the module's weights changed in place. Every in-place change must call it (the training
        loop after each step and at its end, ...): a fused optimizer step, batch-norm statistics, a write through
        `.data` or numpy do not move torch's version counters, so `dl/infer.py`'s cached export could not see them."""
        with self._lock:
            self.weights_version += 1

    def inference_module(self, device=None):
        """A module to run inference with, in eval mode on `device`, that is not this network's module: a node
        never changes what it was given (no eval(), to() or hooks on a shared module). The weights are copied."""
        import torch

        module = self.module
        with self._lock:  # copying reads the module; nothing else changes it while we copy
            view = copy_module(module)
        view.eval()
        if device is not None and torch.device(device).type != "cpu":
            view.to(device)
        return view

    @property
    def built(self) -> bool:
        return self._module is not None

    def forward(self, *inputs):
        out = self.module(*inputs)
        return out if isinstance(out, tuple) else (out,)

    def forward_masked(self, *inputs):
        """(outputs, their padding masks or None each): masked positions do not count in the loss."""
        from .masks import forward_masked

        return forward_masked(self.module, *inputs)

    def copy(self) -> "Network":
        """A deep copy (a learner trains a copy, so the input network stays as it was)."""
        return Network(self.spec, copy_module(self._module) if self._module is not None else None,
                       copy.deepcopy(self.metadata), self._builder)

    def __getstate__(self):
        d = self.__dict__.copy()
        d.pop("_lock", None)
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)
        self.__dict__.setdefault("weights_version", 0)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Network({self.spec.describe()})"
