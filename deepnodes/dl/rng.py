"""Random streams owned by one node: whatever runs beside a node cannot change its random draws.

    gen = torch_generator(seed, "shuffle")          # a node-local torch.Generator for one purpose
    rng = numpy_generator(seed, "partition")        # the same for numpy
    with seeded(seed):                              # code that can only use torch's global generator
        module = build(...)                         #   (weight init, a user's script)
    draws = GlobalStream(seed, "dropout")           # a node's own copy of the global generator's state:
    with draws.active(device):                      #   swapped in under the lock for one forward pass
        out = module(x)                             #   (dropout inside torch kernels, F.dropout, LSTM dropout)

Streams are derived from (seed, purpose) with numpy's SeedSequence (the purpose words are hashed and go
*before* the root seed, so two purposes never collide; see numpy's parallel-random docs). torch's global
generator is shared by every thread of the process, so code that can only draw from it runs under one
process-wide lock (`GLOBAL_LOCK`) with the node's own state swapped in and saved back afterwards: two nodes
never interleave their draws, and a node's sequence is the same alone or beside others.

Modules that draw no random numbers (no dropout or noise layer, or in eval mode) need no lock at all:
`draws_random(module)` says which; a class it does not know (a user's module, TorchScript) counts as random.
"""
from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np

#: held while code draws from torch's global generator (building weights, a forward with dropout, a script)
GLOBAL_LOCK = threading.RLock()


def _words(parts: tuple) -> list[int]:
    out: list[int] = []
    for p in parts:
        digest = hashlib.sha256(str(p).encode()).digest()
        out += [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return out


def stream_seed(seed: int, *purpose) -> int:
    """A 63-bit seed for the stream (`purpose`..., `seed`); purposes go first so that streams cannot collide."""
    ss = np.random.SeedSequence(_words(purpose) + [int(seed) & 0xFFFF_FFFF, (int(seed) >> 32) & 0xFFFF_FFFF])
    return int(ss.generate_state(2, np.uint64)[0] & np.uint64(0x7FFF_FFFF_FFFF_FFFF))


def numpy_generator(seed: int, *purpose) -> np.random.Generator:
    return np.random.default_rng(stream_seed(seed, *purpose))


def torch_generator(seed: int, *purpose, device=None):
    import torch

    return torch.Generator(device=device or "cpu").manual_seed(stream_seed(seed, *purpose))


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run code that draws from torch's global generator as if alone: under `GLOBAL_LOCK`, with the generators
    (CPU and initialised CUDA devices) seeded from `seed` (None: unseeded, only serialised), restored afterwards."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with GLOBAL_LOCK:
        with torch.random.fork_rng(devices=devices, enabled=True):
            if seed is not None:
                torch.manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
            yield


class GlobalStream:
    """A node's own state of torch's global generator(s), swapped in for a piece of code under the lock."""

    def __init__(self, seed: int, *purpose):
        self.seed = stream_seed(seed, *purpose)
        self._cpu = None
        self._cuda: dict[int, object] = {}

    @contextmanager
    def active(self, device=None) -> Iterator[None]:
        import torch

        cuda = device is not None and getattr(device, "type", str(device)).startswith("cuda")
        idx = (device.index if getattr(device, "index", None) is not None else torch.cuda.current_device()) \
            if cuda else None
        with GLOBAL_LOCK:
            saved_cpu = torch.get_rng_state()
            saved_cuda = torch.cuda.get_rng_state(idx) if cuda else None
            try:
                if self._cpu is None:
                    torch.default_generator.manual_seed(self.seed)  # the CPU generator only
                    self._cpu = torch.get_rng_state()
                torch.set_rng_state(self._cpu)
                if cuda:
                    if idx not in self._cuda:
                        with torch.cuda.device(idx):
                            torch.cuda.manual_seed(stream_seed(self.seed, "cuda", idx))
                        self._cuda[idx] = torch.cuda.get_rng_state(idx)
                    torch.cuda.set_rng_state(self._cuda[idx], idx)
                yield
                self._cpu = torch.get_rng_state()
                if cuda:
                    self._cuda[idx] = torch.cuda.get_rng_state(idx)
            finally:
                torch.set_rng_state(saved_cpu)
                if cuda:
                    torch.cuda.set_rng_state(saved_cuda, idx)


# the torch.nn classes that draw random numbers while training (every other torch.nn class never does)
_RANDOM_TORCH = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "RReLU",
                 "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer", "Transformer",
                 "TransformerEncoder", "TransformerDecoder", "RNN", "LSTM", "GRU")
_RATE_ATTRS = ("rate", "dropout", "stddev", "std", "p")


def _module_draws(m) -> bool:
    cls = type(m)
    mod = cls.__module__ or ""
    if mod.startswith("torch.nn.modules"):
        if cls.__name__ not in _RANDOM_TORCH:
            return False
        if cls.__name__ in ("RNN", "LSTM", "GRU"):
            return bool(getattr(m, "dropout", 0)) and getattr(m, "num_layers", 1) > 1
        if cls.__name__ == "MultiheadAttention":
            return bool(getattr(m, "dropout", 0))
        return True
    if mod.startswith("deepnodes.dl."):  # our layers: random iff a rate / dropout / noise option is above 0
        return any(isinstance(getattr(m, a, None), (int, float)) and getattr(m, a) > 0 for a in _RATE_ATTRS)
    return True  # a class we do not know (a user's module, TorchScript, ONNX): assume it may draw


def draws_random(module) -> bool:
    """Whether a forward pass of `module` in training mode may draw from torch's global generator."""
    try:
        return any(_module_draws(m) for m in module.modules())
    except Exception:  # noqa: BLE001 - a module that cannot be walked: assume it may draw
        return True
