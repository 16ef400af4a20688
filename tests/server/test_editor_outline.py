"""The start page's outline of a workflow file: every example gets one that matches its file, and any JSON
at all gives a well-formed outline (links index real nodes) instead of an error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from deepnodes.server.outline import outline
from deepnodes.server.workspace import workflow_info

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                           max_leaves=20)
node = st.fixed_dictionaries({"id": st.one_of(st.text(max_size=3), st.integers()), "type": st.sampled_from(
    ["deepnodes.data.CSVReader", "deepnodes.layers.Dense", "x", 3]), "position": json_values})
conn = st.fixed_dictionaries({"source": st.one_of(st.text(max_size=3), json_values), "target": st.text(max_size=3)})


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.lists(st.one_of(node, json_values), max_size=8), json_values),
       st.one_of(st.lists(st.one_of(conn, json_values), max_size=8), json_values))
def test_any_file_data_gives_a_well_formed_outline(nodes, conns):
    o = outline({"nodes": nodes, "connections": conns})
    json.dumps(o, allow_nan=False)
    for x, y, fam in o["nodes"]:
        assert isinstance(x, float) and isinstance(y, float) and isinstance(fam, str)
    for i, j in o["links"]:
        assert 0 <= i < len(o["nodes"]) and 0 <= j < len(o["nodes"])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_has_a_title_description_runtime_and_its_whole_graph(path):
    data = json.loads(path.read_text())
    info = workflow_info(path)
    assert info["name"] == data["name"] != path.stem and " " in data["name"], f"{path.name} needs a real title"
    assert len(info["description"]) >= 30, f"{path.name} needs a one-line purpose"
    assert info["runtime"], f"{path.name} needs its expected run time"
    assert len(info["outline"]["nodes"]) == len(data["nodes"])
    assert len(info["outline"]["links"]) == len(data["connections"])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_a_save_keeps_the_description_and_runtime(path):
    from deepnodes.core.workflow import Workflow

    data = json.loads(path.read_text())
    again = json.loads(Workflow.loads(path.read_text()).dumps())
    assert again["description"] == data["description"] and again["runtime"] == data["runtime"]
    assert list(again)[:4] == ["format", "name", "description", "runtime"]
    assert "description" not in Workflow("x").to_json()
