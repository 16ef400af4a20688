"""A component shows its body's progress on its own node: the share of inner nodes done and what the running
inner node says (the editor draws a node's progress from these events; inner events keep their own path)."""
from __future__ import annotations

import pytest

from deepnodes.core import Engine
from deepnodes.core.component import memo_clear
from tests.flow.flow_bodies import holdout_body, outer


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo_clear()


def test_a_component_node_shows_the_progress_inside_it():
    eng = Engine(outer("deepnodes.flow.Component", {"body": holdout_body()}))
    events: list[dict] = []
    eng.subscribe(events.append)
    assert eng.run().ok, eng.status["comp"].message
    own = [e for e in events if e.get("type") == "progress" and e.get("node") == "comp"]
    fractions = [e["fraction"] for e in own]
    assert any(e["message"].startswith("learner: ") for e in own)  # the learner's epochs, on the outer node
    assert fractions[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in fractions)
    assert all(b >= a - 1e-9 for a, b in zip(fractions, fractions[1:]))  # it only moves forward
    assert eng.status["comp"].progress == 1.0
    assert any(e.get("node") == "comp/learner" for e in events if e.get("type") == "progress")
