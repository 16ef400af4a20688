"""The hub's throttling on a fake clock: at most 20 metrics messages a second per node, every point delivered,
held-back points sent before the node's next state, closed documents forgotten. No real time is measured."""
from __future__ import annotations

import asyncio
import types

import pytest

from deepnodes.server import hub as hub_module
from deepnodes.server.hub import MIN_INTERVAL, Hub


class FakeLoop:
    """call_later on a clock the test moves."""

    def __init__(self):
        self.now = 0.0
        self.timers: list[list] = []  # [when, fn, args, cancelled]

    def call_later(self, delay, fn, *args):
        t = [self.now + delay, fn, args, False]
        self.timers.append(t)
        return types.SimpleNamespace(cancel=lambda: t.__setitem__(3, True))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for t in sorted(self.timers, key=lambda t: t[0]):
            if t[0] <= self.now and not t[3]:
                t[3] = True
                t[1](*t[2])
        self.timers = [t for t in self.timers if not t[3]]


@pytest.fixture
def hub(monkeypatch):
    loop = FakeLoop()
    monkeypatch.setattr(hub_module, "time", types.SimpleNamespace(monotonic=lambda: loop.now))
    h = Hub()
    h.loop = loop
    q: asyncio.Queue = asyncio.Queue()
    h.add("d", q)
    return h, loop, q


def _drain(q) -> list[dict]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


@pytest.mark.parametrize("per_second", [50, 1000, 20000])
def test_at_most_20_metrics_messages_a_second_and_every_point(hub, per_second):
    h, loop, q = hub
    seconds = 3
    n = per_second * seconds
    for i in range(n):
        h._dispatch("d", {"type": "metrics", "node": "tr", "kind": "batch", "step": i, "values": {"loss": 1 / (i + 1)}})
        loop.advance(1 / per_second)
    h._dispatch("d", {"type": "metrics", "node": "tr", "kind": "epoch", "epoch": 0, "values": {"loss": 0.1}})
    h._dispatch("d", {"type": "state", "node": "tr", "state": "executed"})
    msgs = _drain(q)
    metrics = [m for m in msgs if m["type"] == "metrics"]
    assert len(metrics) <= seconds / MIN_INTERVAL + 2
    points = [p for m in metrics for p in m["points"]]
    assert [p["step"] for p in points if p["kind"] == "batch"] == list(range(n))  # none lost, in order
    assert [p["epoch"] for p in points if p["kind"] == "epoch"] == [0]
    assert msgs[-1]["type"] == "state"  # held-back points came before the final state


def test_two_nodes_are_throttled_apart(hub):
    h, loop, q = hub
    for i in range(200):
        for node in ("a", "b"):
            h._dispatch("d", {"type": "progress", "node": node, "fraction": i / 200})
        loop.advance(0.001)
    loop.advance(1)
    msgs = _drain(q)
    for node in ("a", "b"):
        mine = [m for m in msgs if m["node"] == node]
        assert 2 <= len(mine) <= 0.2 / MIN_INTERVAL + 2 and mine[-1]["fraction"] == 199 / 200  # latest wins


def test_a_closed_document_is_forgotten(hub):
    h, loop, q = hub
    h._dispatch("d", {"type": "metrics", "node": "tr", "kind": "batch", "step": 0, "values": {}})
    h._dispatch("d", {"type": "metrics", "node": "tr", "kind": "batch", "step": 1, "values": {}})  # held back
    h._dispatch("d", {"type": "__drop__"})
    loop.advance(1)
    msgs = _drain(q)
    assert msgs[-1] == {"type": "closed", "doc": "d"}
    assert "d" not in h.clients and not h._pending and not [t for t in loop.timers if not t[3]]
