"""The event hub: engine events arrive on the engine's dispatcher thread and are handed to the asyncio loop,
where they are throttled (metrics and progress: at most 20 messages a second per node, batching the points so
none is lost and every epoch arrives) and fanned out to every tab that watches the document."""
from __future__ import annotations

import asyncio
import time

MIN_INTERVAL = 0.05  # seconds between two metrics (or progress) messages of one node: 20 per second


class Hub:
    """Fans events out to WebSocket clients, with per-node throttling of metrics and progress."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: dict[str, set[asyncio.Queue]] = {}
        # (doc, node, channel) -> pending state: {'last': t, 'points': [...], 'latest': ev, 'handle': TimerHandle}
        self._pending: dict[tuple, dict] = {}

    # called from any thread
    def publish(self, doc_id: str, ev: dict) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._dispatch, doc_id, ev)
        except RuntimeError:  # the loop is shutting down
            pass

    # the rest runs in the event loop
    def add(self, doc_id: str, q: asyncio.Queue) -> None:
        self.clients.setdefault(doc_id, set()).add(q)

    def remove(self, doc_id: str, q: asyncio.Queue) -> None:
        self.clients.get(doc_id, set()).discard(q)

    def watchers(self, doc_id: str, besides: str | None = None) -> int:
        """How many WebSockets watch a document, not counting those of the page `besides` (a client id)."""
        return sum(1 for q in self.clients.get(doc_id, ()) if not besides or getattr(q, "client", "") != besides)

    def drop(self, doc_id: str) -> None:
        """A document was closed: tell its tabs, forget its clients and held-back events."""
        self._send(doc_id, {"type": "closed", "doc": doc_id})
        self.clients.pop(doc_id, None)
        for key in [k for k in self._pending if k[0] == doc_id]:
            p = self._pending.pop(key)
            if p["handle"] is not None:
                p["handle"].cancel()

    def _send(self, doc_id: str, msg: dict) -> None:
        for q in list(self.clients.get(doc_id, ())):
            if q.qsize() < 10000:  # a stuck tab cannot make the server run out of memory
                q.put_nowait(msg)

    def _dispatch(self, doc_id: str, ev: dict) -> None:
        t = ev.get("type")
        nid = ev.get("node")
        if t == "__drop__":
            self.drop(doc_id)
        elif t == "metrics" and nid:
            self._throttled(doc_id, nid, "metrics", ev)
        elif t == "progress" and nid:
            self._throttled(doc_id, nid, "progress", ev)
        else:
            if nid and t == "state":
                # what was held back comes first, so a chart is complete when the node turns 'executed'
                self._flush(doc_id, nid, "metrics")
                self._flush(doc_id, nid, "progress")
            self._send(doc_id, ev)

    def _throttled(self, doc_id: str, nid: str, channel: str, ev: dict) -> None:
        key = (doc_id, nid, channel)
        p = self._pending.setdefault(key, {"last": 0.0, "points": [], "latest": None, "handle": None})
        if channel == "metrics":
            p["points"].append({"kind": ev.get("kind", "batch"), "step": ev.get("step"), "epoch": ev.get("epoch"),
                                "values": ev.get("values", {}), "time": ev.get("time")})
        else:
            p["latest"] = ev
        now = time.monotonic()
        wait = p["last"] + MIN_INTERVAL - now
        if wait <= 0:
            self._flush(doc_id, nid, channel)
        elif p["handle"] is None:
            p["handle"] = self.loop.call_later(wait, self._flush, doc_id, nid, channel)

    def _flush(self, doc_id: str, nid: str, channel: str) -> None:
        key = (doc_id, nid, channel)
        p = self._pending.get(key)
        if p is None:
            return
        if p["handle"] is not None:
            p["handle"].cancel()
            p["handle"] = None
        if channel == "metrics" and p["points"]:
            self._send(doc_id, {"type": "metrics", "node": nid, "points": p["points"]})
            p["points"] = []
            p["last"] = time.monotonic()
        elif channel == "progress" and p["latest"] is not None:
            self._send(doc_id, p["latest"])
            p["latest"] = None
            p["last"] = time.monotonic()
