"""Port types and port declarations.

A port type knows how to save and load the objects that flow through it (for results saved beside a
workflow) and how to summarise them for a report. Handlers live in the layer that owns the data
(tables in `deepnodes.table`, networks in `deepnodes.dl`) and are imported lazily by dotted path, so the
core never imports pyarrow or torch itself.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol


class PortIO(Protocol):
    """What a port type's handler provides.

    `save` is given a path stem inside a fresh folder of a new results generation (`core/results.py`): it
    creates new files only (never writes into an existing one: a saved file may be memory-mapped by a reader),
    returns the name it used beside the stem, and raises when the object cannot be saved (the engine then
    leaves that node's results unsaved with a warning naming the reason). `load` reads only the path given."""

    def save(self, obj: Any, path: str) -> str: ...  # writes obj at path (a file or folder stem), returns the file name used

    def load(self, path: str) -> Any: ...

    def spec_of(self, obj: Any) -> Any: ...

    def summary(self, obj: Any) -> dict: ...


@dataclass(frozen=True)
class PortType:
    name: str
    description: str
    io_path: str  # "module:attribute" of a PortIO handler

    @property
    def io(self) -> PortIO:
        mod, _, attr = self.io_path.partition(":")
        return getattr(importlib.import_module(mod), attr)


PORT_TYPES: dict[str, PortType] = {}


def register_port_type(pt: PortType) -> PortType:
    PORT_TYPES[pt.name] = pt
    return pt


TABLE = register_port_type(PortType("table", "A data table (Arrow)", "deepnodes.table.io:TABLE_IO"))
NETWORK = register_port_type(PortType("network", "A neural network: spec, weights and metadata", "deepnodes.dl.io:NETWORK_IO"))
MODEL = register_port_type(PortType("model", "A fitted model (normalizer, dictionary, XGBoost, scikit-learn...)", "deepnodes.core.model:MODEL_IO"))


@dataclass(frozen=True)
class Port:
    """A node's input or output. `optional` inputs may stay unconnected (the node then gets None)."""

    name: str
    type: str = "table"
    description: str = ""
    optional: bool = False

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "description": self.description, "optional": self.optional}


def In(name: str, type: str = "table", description: str = "", optional: bool = False) -> Port:  # noqa: N802
    return Port(name, type, description, optional)


def Out(name: str, type: str = "table", description: str = "") -> Port:  # noqa: N802
    return Port(name, type, description)


def port_type_of_spec(spec: Any) -> str | None:
    return getattr(spec, "port_type", None)
