"""Issue 9, bug 3: every option's real default is in its node's schema (the dialog and `deepnodes describe`
show it), also when a factory makes it (`Field(default_factory=...)`)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic_core import to_jsonable_python

from deepnodes.core import registry
from deepnodes.core.registry import describe

NODES = registry.all_nodes()


def _fields_with_defaults(cls):
    for name, f in cls.Config.model_fields.items():
        if not f.is_required():
            yield name, to_jsonable_python(f.get_default(call_default_factory=True, validated_data={}))


@pytest.mark.parametrize("type_id", sorted(NODES))
def test_schema_shows_every_default(type_id):
    cls = NODES[type_id]
    props = describe(cls)["config_schema"].get("properties", {})
    for name, value in _fields_with_defaults(cls):
        key = cls.Config.model_fields[name].alias or name
        assert key in props, f"{type_id}: option '{key}' is not in the schema"
        assert "default" in props[key], f"{type_id}: option '{key}' has a default ({value!r}) the schema does not show"
        assert props[key]["default"] == value, f"{type_id}: option '{key}'"


def test_factory_defaults_are_in_the_schema():
    assert describe(NODES["deepnodes.layers.Input"])["config_schema"]["properties"]["shape"]["default"] == [1, 28, 28]
    learner = describe(NODES["deepnodes.dl.NetworkLearner"])["config_schema"]["properties"]
    assert learner["inputs"]["default"] == [] and learner["targets"]["default"] == []


def test_describe_prints_the_factory_default_and_marks_required_options():
    out = subprocess.run([sys.executable, "-m", "deepnodes.cli", "describe", "deepnodes.layers.Input"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "shape = [1, 28, 28]" in out
    assert '= ""' not in out
    # an option without any default is named as required, not printed as an empty string
    required = [(t, n) for t, c in NODES.items() for n, f in c.Config.model_fields.items() if f.is_required()]
    if required:
        t, n = required[0]
        out = subprocess.run([sys.executable, "-m", "deepnodes.cli", "describe", t],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        assert f"{n} = (required)" in out or json.dumps(n) in out
