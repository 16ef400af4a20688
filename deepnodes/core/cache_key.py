"""A node's cache key: everything that can change its output, and nothing else.

    key = cache_key(node_type, node, signature_extra, input_keys, device)

It covers the package version (a new release may compute differently), the node's *full* configuration with
every default filled in (workflow files drop defaults for brevity; a changed default must still change the
key), `signature_extra()` (what a reader reads: each file's path, size and modification time), the input
keys, and the device for nodes whose results depend on it (`Node.device_dependent`: training and inference
give other floating-point results on CUDA than on the CPU). A node that is not `cacheable` (a writer, a
Python script whose code is not marked deterministic) gets a key that never repeats.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

_AUTO_DEVICE: str | None = None


def auto_device() -> str:
    """What device 'auto' means on this machine, without importing torch: 'cuda' when an NVIDIA device is present."""
    global _AUTO_DEVICE
    if _AUTO_DEVICE is None:
        present = os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1")
        _AUTO_DEVICE = "cuda" if present and not hidden else "cpu"
    return _AUTO_DEVICE


def _version() -> str:
    from deepnodes import __version__

    return __version__


def full_config(node) -> Any:
    """The node's configuration with its defaults, as JSON data (`node.key_config()` where a node leaves out what
    computes nothing: a component's body without its nodes' positions)."""
    own = getattr(node, "key_config", None)
    if own is not None:
        return own()
    try:
        return node.config.model_dump(mode="json")
    except Exception:  # noqa: BLE001 - a config that does not dump as JSON: its Python form
        return node.config.model_dump()


def hash_of(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cache_key(node_type: str, node, extra: Any, input_keys: list[str], device: str | None) -> str:
    parts: dict[str, Any] = {"type": node_type, "version": _version(), "config": full_config(node),
                             "extra": extra, "inputs": input_keys}
    if getattr(node, "device_dependent", False):
        cfg_device = getattr(node.config, "device", None)
        want = cfg_device if cfg_device not in (None, "", "auto") else (device or "auto")
        parts["device"] = auto_device() if want == "auto" else str(want).split(":")[0]
    if not node.cacheable:
        parts["run"] = time.time_ns()  # never reused: the node runs again on every run
    return hash_of(parts)


def files_signature(paths) -> str:
    """Path, size and modification time of each file a reader reads (in the order given), so the key changes
    when a file is added, removed, replaced or edited."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append(f"{p}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            out.append(f"{p}:missing")
    return ";".join(out)
