"""The editor's dialog hints (core.ui) across every registered node: every annotation names a real field,
every condition a real sibling field and a value it can take, every registry drop-down is filled."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from deepnodes.core import registry
from deepnodes.core.ui import CLIENT_SOURCES, annotate, editor_schema, enum_source, ui


def _objects(schema):
    yield schema
    yield from schema.get("$defs", {}).values()


def _value_ok(prop: dict, value, root: dict) -> bool:
    if "$ref" in prop:
        prop = root["$defs"][prop["$ref"].split("/")[-1]]
    alts = prop.get("anyOf", [prop])
    for a in alts:
        if "enum" in a:
            if value in a["enum"]:
                return True
        elif a.get("type") == "boolean" and isinstance(value, bool):
            return True
        elif a.get("type") == "string" and isinstance(value, str):
            return True
        elif a.get("type") in ("integer", "number") and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
    return False


@pytest.fixture(scope="module")
def catalogue():
    registry.discover()
    return {t: registry.describe(c) for t, c in registry.all_nodes().items()}


def test_every_condition_names_a_sibling_field_and_a_value_it_takes(catalogue):
    checked = 0
    for t, d in catalogue.items():
        schema = d["config_schema"]
        assert "x-ui" not in schema, t
        for obj in _objects(schema):
            props = obj.get("properties", {})
            for name, prop in props.items():
                conds = prop.get("x-show-if")
                if conds is None:
                    continue
                for cond in conds if isinstance(conds, list) else [conds]:
                    for key, values in cond.items():
                        assert key in props, f"{t}: '{name}' is shown if '{key}', which is not a sibling field"
                        for v in values:
                            assert _value_ok(props[key], v, schema), f"{t}: '{name}' waits for {key}={v!r}, which it cannot take"
                            checked += 1
    assert checked > 20


def test_registry_drop_downs_are_filled_and_client_sources_are_known(catalogue):
    for t, d in catalogue.items():
        for obj in _objects(d["config_schema"]):
            props = obj.get("properties", {})
            for name, prop in props.items():
                src = prop.get("x-enum-source")
                if src is None:
                    continue
                if src in CLIENT_SOURCES:
                    continue
                assert prop.get("x-enum") or prop.get("x-enum-map"), f"{t}.{name}: source '{src}' not filled"
                if "x-enum-map" in prop:
                    dep = props[prop["x-enum-depends"]]
                    assert set(dep["x-enum"]) <= set(prop["x-enum-map"]), f"{t}.{name}"


def test_dataset_reader_offers_the_registered_datasets_and_their_splits(catalogue):
    from deepnodes.datasets import dataset_names, get_dataset

    s = catalogue["deepnodes.data.DatasetReader"]["config_schema"]["properties"]
    assert s["dataset"]["x-enum"] == dataset_names()
    assert s["split"]["x-enum-map"]["fashion-mnist"] == [*get_dataset("fashion-mnist").splits, "all"]
    assert s["split"]["x-enum-map"]["digits"] == ["all"]


def test_learner_dialog_has_its_tabs_and_every_option_sits_on_one(catalogue):
    s = catalogue["deepnodes.dl.NetworkLearner"]["config_schema"]
    groups = {p.get("x-group") for p in s["properties"].values()}
    assert groups == {"General", "Optimizer", "Early stopping and schedule", "Distributed", "Advanced"}
    dist = s["$defs"]["DistributedOptions"]["properties"]  # the Ray fields only when backend is 'ray'
    assert all(p["x-show-if"] == {"backend": ["ray"]} for k, p in dist.items() if k != "backend")
    assert s["properties"]["momentum"]["x-show-if"] == {"optimizer": ["sgd", "rmsprop"]}
    assert s["properties"]["beta_1"]["x-show-if"]["optimizer"][0] == "adam"
    targets = s["$defs"]["TargetColumns"]["properties"]
    assert targets["network_output"]["x-enum-source"] == "network_outputs"
    assert targets["huber_delta"]["x-show-if"] == {"loss": ["huber"]}
    assert s["$defs"]["InputColumns"]["properties"]["network_input"]["x-enum-source"] == "network_inputs"


def test_an_annotation_of_a_missing_field_names_it():
    from pydantic import BaseModel, ConfigDict

    class C(BaseModel):
        model_config = ConfigDict(json_schema_extra=annotate({"nope": ui("General")}))
        a: int = 1

    with pytest.raises(KeyError, match="'nope'"):
        editor_schema(C.model_json_schema())


def test_an_unregistered_source_names_it():
    from pydantic import BaseModel, Field

    class C(BaseModel):
        a: str = Field("x", json_schema_extra=ui(enum_source="no-such-source"))

    with pytest.raises(KeyError, match="no-such-source"):
        editor_schema(C.model_json_schema())


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5, unique=True))
def test_a_source_depending_on_another_field_gives_one_list_per_value(keys):
    from pydantic import BaseModel, Field

    enum_source("test-keys")(lambda: keys)
    enum_source("test-by-key", depends_on="k")(lambda: {k: [k + "-1", k + "-2"] for k in keys})

    class C(BaseModel):
        k: str = Field("", json_schema_extra=ui(enum_source="test-keys"))
        v: str = Field("", json_schema_extra=ui(enum_source="test-by-key"))

    s = editor_schema(C.model_json_schema())["properties"]
    assert s["k"]["x-enum"] == keys
    assert s["v"]["x-enum-depends"] == "k" and list(s["v"]["x-enum-map"]) == keys


@pytest.mark.parametrize("bad", [{"a": 1}, ["a"], {"a": "x"}])
def test_a_condition_must_map_fields_to_value_lists(bad):
    with pytest.raises(ValueError, match="show_if"):
        ui(show_if=bad)


def test_the_learner_dialog_starts_with_its_columns_then_epochs(catalogue):
    names = list(catalogue["deepnodes.dl.NetworkLearner"]["config_schema"]["properties"])
    assert names[:4] == ["inputs", "targets", "epochs", "batch_size"]


def test_inherited_options_that_do_not_apply_are_hidden(catalogue):
    s = catalogue["deepnodes.dl.NetworkLearner"]["config_schema"]["$defs"]
    assert s["TargetColumns"]["properties"]["network_input"]["x-hidden"] is True
    assert "x-hidden" not in s["InputColumns"]["properties"]["network_input"]
