"""Run-scoped resources: services the nodes of one run share, released when the run ends.

The engine makes one `RunResources` per `run()` and sets it on every node's execution context as
`ctx.resources`. A node that opens a shared service (an H2O cluster) registers how to release it with
`on_end(key, fn)`; each key is registered once per run, and `close()` (called by the engine when the run
finishes, fails or is cancelled) calls them in reverse order. A failing release never breaks the run.
"""
from __future__ import annotations

import threading
import traceback
from typing import Callable


class RunResources:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._release: dict[str, Callable[[], None]] = {}
        self.closed = False

    def on_end(self, key: str, fn: Callable[[], None]) -> None:
        """Call `fn` when the run ends (once per `key`; a later registration of the same key is ignored)."""
        with self._lock:
            if self.closed:
                raise RuntimeError("the run has already ended")
            self._release.setdefault(key, fn)

    def close(self) -> None:
        with self._lock:
            fns, self._release, self.closed = list(self._release.values()), {}, True
        for fn in reversed(fns):
            try:
                fn()
            except Exception:  # noqa: BLE001 - a release that fails must not lose the run's results
                traceback.print_exc()
