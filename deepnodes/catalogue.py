"""The node catalogue for clients (CLI, server): every node type's description, cached on disk.

Importing every node module and building its config schema takes most of a second, so the catalogue is
cached in the user's cache folder under a fingerprint of the package's files (and installed plugins):
`deepnodes nodes` then answers without importing pydantic or any node module. This module imports
nothing from `deepnodes.core` until the cache misses.
"""
from __future__ import annotations
def _fingerprint() -> str:
    """Changes whenever a file of the package or an installed plugin changes."""
    import hashlib
    import os
    from importlib.metadata import entry_points

    import deepnodes

    h = hashlib.sha256(deepnodes.__version__.encode())
    root = os.path.dirname(deepnodes.__file__)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "static"))
        for f in sorted(filenames):
            if f.endswith(".py"):
                st = os.stat(os.path.join(dirpath, f))
                h.update(f"{dirpath}/{f}:{st.st_mtime_ns}:{st.st_size};".encode())
    for ep in entry_points(group="deepnodes.nodes"):
        h.update(f"{ep.name}={ep.value};".encode())
    return h.hexdigest()[:20]


def catalogue() -> list[dict]:
    """`describe()` of every node type, sorted by type id.

    Importing every node module and building its config schema takes most of a second, so the result is
    cached in the user's cache folder under a fingerprint of the package's files: `deepnodes nodes` then
    answers without importing any node module.
    """
    import json
    import os
    import sys
    from pathlib import Path

    live = sys.modules.get("deepnodes.core.registry")
    if live is not None and live._REGISTRY:  # nodes already imported in this process (the server, tests): use them
        return [live.describe(c) for c in live.all_nodes().values()]

    cache_root = Path(os.environ.get("DEEPNODES_CACHE") or Path.home() / ".cache" / "deepnodes")
    path = cache_root / f"catalogue-{_fingerprint()}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    from .core import registry

    data = [registry.describe(c) for c in registry.all_nodes().values()]
    if not registry.IMPORT_ERRORS and all(d["type"].startswith("deepnodes.") for d in data):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            for old in path.parent.glob("catalogue-*.json"):
                old.unlink(missing_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(path)
        except OSError:  # a read-only home never stops the command
            pass
    return data


def describe_type(type_id: str) -> dict | None:
    """One node type's description (None when unknown): where the nodes are imported (the server, tests, a
    forked run) straight from the registry, since describing all of them for one costs most of a second;
    otherwise from the catalogue."""
    import sys

    live = sys.modules.get("deepnodes.core.registry")
    if live is not None and live._REGISTRY:
        try:
            return live.describe(live.get(type_id))
        except KeyError:
            return None
    return next((d for d in catalogue() if d["type"] == type_id), None)

