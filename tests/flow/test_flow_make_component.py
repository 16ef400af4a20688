"""Make component: any choice of nodes of a real workflow becomes one Component (boundary connections as its
ports) and the workflow computes exactly what it did, or the choice is refused in one sentence (a cycle)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepnodes.core import Engine, Workflow, WorkflowError
from deepnodes.core.component import memo_clear
from deepnodes.core.make_component import make_component

NODES = ["small", "samp", "part", "big", "first", "second"]


def flat() -> Workflow:
    """digits -> Row Filter -> Row Sampling -> Partitioning -(first)-> Row Filter 'big' -> ...; two branches."""
    wf = Workflow("flat")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"})
    wf.add("deepnodes.data.RowFilter", "small", {"column": "label", "operator": "<", "value": "7"})
    wf.add("deepnodes.data.RowSampling", "samp", {"fraction": 0.5, "seed": 3})
    wf.add("deepnodes.data.Partitioning", "part", {"fraction": 0.6, "seed": 2})
    wf.add("deepnodes.data.RowFilter", "big", {"column": "label", "operator": ">", "value": "2"})
    wf.add("deepnodes.data.RowSampling", "first", {"fraction": 0.5, "seed": 4})
    wf.add("deepnodes.data.RowSampling", "second", {"fraction": 0.5, "seed": 5})
    for link in [("digits", "table", "small", "table"), ("small", "table", "samp", "table"),
                 ("samp", "table", "part", "table"), ("part", "first", "big", "table"),
                 ("big", "table", "first", "table"), ("part", "second", "second", "table")]:
        wf.connect(*link)
    return wf


@pytest.fixture(scope="module")
def reference():
    eng = Engine(flat())
    assert eng.run().ok
    return {n: eng.output(n, 0) for n in eng.workflow.nodes}


@settings(max_examples=10, deadline=None)
@given(chosen=st.lists(st.sampled_from(NODES), min_size=1, max_size=4, unique=True))
def test_any_choice_becomes_a_component_that_computes_the_same(reference, chosen):
    memo_clear()
    wf = flat()
    try:
        comp = make_component(wf, chosen, "comp")
    except WorkflowError as e:
        assert "lies between them" in str(e) and "\n" not in str(e)
        return
    assert set(chosen).isdisjoint(wf.nodes) and wf.nodes[comp].type == "deepnodes.flow.Component"
    again = Workflow.from_json(wf.to_json())  # the file round-trips
    eng = Engine(again)
    res = eng.run()
    assert res.ok, {n: s.message for n, s in eng.status.items() if s.message}
    for nid in again.nodes:
        if nid != comp:
            assert eng.output(nid, 0).equals(reference[nid]), nid
    for c in again.connections:  # every outer use of a chosen node's output now comes from the component
        assert c.source not in chosen and c.target not in chosen


def test_ports_are_named_after_what_crossed_the_boundary():
    wf = flat()
    comp = make_component(wf, ["part", "big"], "comp")
    body = wf.nodes[comp].config["body"]
    ins = sorted(n["config"]["name"] for n in body["nodes"] if n["type"] == "deepnodes.flow.ComponentInput")
    outs = sorted(n["config"]["name"] for n in body["nodes"] if n["type"] == "deepnodes.flow.ComponentOutput")
    assert ins == ["table"] and outs == ["second", "table"]


def test_a_choice_around_an_unchosen_node_is_refused():
    wf = flat()
    with pytest.raises(WorkflowError, match="'big' lies between them"):
        make_component(wf, ["part", "first"])
    with pytest.raises(WorkflowError, match="choose at least one node"):
        make_component(wf, [])
