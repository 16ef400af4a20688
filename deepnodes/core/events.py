"""Event delivery: one dispatcher thread per engine, producers never block.

Nodes emit events from the engine's worker threads, often while their `print` output is being captured
into their log (Python nodes). If subscribers ran on the emitting thread, a subscriber that prints (the
CLI's plain display) would have its line captured, turned into a log event and delivered back to itself
while it still holds its own lock: a deadlock. So `emit` only puts the event on a queue, and one
dispatcher thread (which belongs to no node, so nothing it writes is captured) calls the subscribers in
the order the events were emitted, one at a time. An event a subscriber emits is queued behind the
current one, never delivered re-entrantly.

`flush()` waits until every event emitted so far has been delivered; the engine calls it before a public
call returns, so a caller sees the events of `run()` or `configure()` once the call is over.

Library warnings raised while a node runs (`warnings.warn` from torch's ONNX exporter, Keras tracing) go
to that node's log, not to the user's screen: `node_warnings(log)` routes the warnings of the current
thread (warnings of other threads keep the default behaviour).
"""
from __future__ import annotations

import collections
import threading
import time
import traceback
import warnings
from typing import Callable

Listener = Callable[[dict], None]

#: how long `flush` waits for a slow subscriber before the caller goes on (a run never hangs on a listener)
FLUSH_TIMEOUT = 30.0
#: a dispatcher thread with nothing to deliver for this long ends; the next event starts a new one
IDLE_SECONDS = 2.0


class EventBus:
    def __init__(self, name: str = "deepnodes-events"):
        self.name = name
        self._listeners: list[Listener] = []
        self._queue: collections.deque[dict] = collections.deque()
        self._cond = threading.Condition()
        self._emitted = 0
        self._delivered = 0
        self._thread: threading.Thread | None = None

    def subscribe(self, fn: Listener) -> Callable[[], None]:
        with self._cond:
            self._listeners.append(fn)

        def unsubscribe() -> None:
            with self._cond:
                if fn in self._listeners:
                    self._listeners.remove(fn)
        return unsubscribe

    def emit(self, event: dict) -> None:
        """Queue an event for delivery; never blocks on a subscriber."""
        event.setdefault("time", time.time())
        with self._cond:
            self._queue.append(event)
            self._emitted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def in_dispatcher(self) -> bool:
        return threading.current_thread() is self._thread

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Wait until every event emitted so far has been delivered (True), or `timeout` passed (False).

        Called from a subscriber (the dispatcher thread itself) it returns at once."""
        if self.in_dispatcher():
            return False
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._emitted
            while self._delivered < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._cond.wait(IDLE_SECONDS)
                if not self._queue:
                    self._thread = None  # idle: end; the next emit starts a new dispatcher
                    return
                event = self._queue.popleft()
                listeners = list(self._listeners)
            try:
                for fn in listeners:
                    try:
                        fn(event)
                    except Exception:  # noqa: BLE001 - a broken listener never breaks a run
                        _report_listener_error()
            finally:  # whatever happens, the event counts as delivered: flush() never waits for it forever
                with self._cond:
                    self._delivered += 1
                    self._cond.notify_all()


def _report_listener_error() -> None:
    try:
        traceback.print_exc()
    except Exception:  # noqa: BLE001 - stderr itself is gone (a closed pipe): nothing more to say
        pass


# --------------------------------------------------------------------------- warnings per node thread
_local = threading.local()
_install_lock = threading.Lock()
_original_showwarning = None


def _showwarning(message, category, filename, lineno, file=None, line=None):
    log = getattr(_local, "log", None)
    if log is None:
        return _original_showwarning(message, category, filename, lineno, file, line)
    try:
        log(f"{category.__name__}: {message}")
    except Exception:  # noqa: BLE001 - a warning must never break the node
        pass


def _install() -> None:
    global _original_showwarning
    with _install_lock:
        if warnings.showwarning is not _showwarning:
            _original_showwarning = warnings.showwarning
            warnings.showwarning = _showwarning


class node_warnings:
    """Context manager: warnings shown on this thread go to `log(line)` (the node's log, as warnings)."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log

    def __enter__(self):
        _install()
        self.prev = getattr(_local, "log", None)
        _local.log = self.log
        return self

    def __exit__(self, *exc):
        _local.log = self.prev
        return False


__all__ = ["EventBus", "node_warnings"]
