"""`deepnodes describe TYPE` lists the choices of every enumerated option (a fixed enum, also optional or an Enum
class; a registry drop-down, x-enum; one list per value of the option it depends on, x-enum-map)."""
from __future__ import annotations

import enum
from typing import Literal, Optional

from pydantic import Field

from deepnodes.cli import main
from deepnodes.core import Node, NodeConfig, Out, node, registry
from tests.core import fake_nodes  # noqa: F401  (the "number" port type)


class Colour(str, enum.Enum):
    red = "red"
    green = "green"


@node("test.Choices", name="Choices", category="Test")
class Choices(Node):
    """Options of every enumerated kind."""
    outputs = [Out("out", "number")]

    class Config(NodeConfig):
        mode: Literal["fast", "slow"] = Field("fast", description="how")
        maybe: Optional[Literal["up", "down"]] = Field(None, description="which way, or none")
        colour: Colour = Field(Colour.red, description="a colour")
        free: str = Field("x", description="any text", json_schema_extra={"x-enum": ["x", "y"]})

    def configure(self, specs):
        return [None]


def option_blocks(out: str) -> dict[str, str]:
    """`describe`'s options section split into one text per option (its line and the indented lines below)."""
    blocks: dict[str, str] = {}
    cur = None
    for line in out.split("options:\n", 1)[1].splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            cur = line.split(" = ", 1)[0].strip()
            blocks[cur] = line
        elif cur:
            blocks[cur] += "\n" + line
    return blocks


def test_describe_lists_each_kind_of_choice_under_its_option(capsys):
    assert main(["describe", "test.Choices"]) == 0
    b = option_blocks(capsys.readouterr().out)
    assert "choices: fast, slow" in b["mode"]
    assert "choices: up, down" in b["maybe"]
    assert "choices: red, green" in b["colour"]
    assert "choices: x, y (or another value)" in b["free"]


def test_dataset_reader_lists_its_datasets_and_each_datasets_splits(capsys):
    assert main(["describe", "deepnodes.data.DatasetReader"]) == 0
    b = option_blocks(capsys.readouterr().out)
    assert "fashion-mnist" in b["dataset"] and "digits" in b["dataset"]
    assert "choices by dataset:" in b["split"]
    assert "fashion-mnist: train, test, all" in b["split"]
    assert "digits: all" in b["split"]


def test_every_registered_nodes_enumerated_options_show_all_their_choices(capsys):
    checked = 0
    for cls in registry.all_nodes().values():
        d = registry.describe(cls)
        props = d["config_schema"].get("properties", {})
        assert main(["describe", d["type"]]) == 0
        blocks = option_blocks(capsys.readouterr().out)
        for name, prop in props.items():
            values = [v for p in (prop, *prop.get("anyOf", [])) for v in p.get("enum", []) if v is not None]
            values += prop.get("x-enum", [])
            values += [v for vs in prop.get("x-enum-map", {}).values() for v in vs]
            for v in values:
                assert str(v) in blocks[name].partition("\n")[2], f"{d['type']}: option '{name}' does not list '{v}'"
            checked += bool(values)
    assert checked > 30
