"""The node registry: `@node(type_id, ...)` registers a class; `discover()` imports every node module.

Node modules live under `deepnodes/nodes/` and must not import torch or pyarrow at module level, so that
`deepnodes nodes` stays fast. Plugins add nodes through the `deepnodes.nodes` entry point group.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:  # the catalogue's fast path must not import pydantic
    from .node import Node

N = TypeVar("N", bound=type)

_REGISTRY: dict[str, "type[Node]"] = {}
_discovered = False
#: node modules that failed to import: module name -> error (shown by `deepnodes nodes`, asserted empty by the tests)
IMPORT_ERRORS: dict[str, str] = {}


def node(type_id: str, *, name: str, category: str, description: str | None = None) -> Callable[[N], N]:
    """Register a node class under a stable `type_id` (never change it once workflows use it)."""

    def deco(cls: N) -> N:
        if type_id in _REGISTRY and _REGISTRY[type_id] is not cls:
            raise ValueError(f"node type '{type_id}' is registered twice")
        cls.type_id = type_id
        cls.name = name
        cls.category = category
        cls.description = inspect.cleandoc(description or cls.__doc__ or "")
        _REGISTRY[type_id] = cls
        return cls

    return deco


def discover() -> None:
    """Import every module under `deepnodes.nodes` (and plugins' entry points) once."""
    global _discovered
    if _discovered:
        return
    import deepnodes.nodes as pkg

    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".", onerror=lambda name: None):
        try:
            importlib.import_module(info.name)
        except Exception as e:  # noqa: BLE001 - one broken module must not hide every other node
            IMPORT_ERRORS[info.name] = f"{type(e).__name__}: {e}"
    from importlib.metadata import entry_points

    for ep in entry_points(group="deepnodes.nodes"):
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001 - a broken plugin must not break the product
            IMPORT_ERRORS[f"plugin {ep.name}"] = f"{type(e).__name__}: {e}"
    _discovered = True


def all_nodes() -> "dict[str, type[Node]]":
    discover()
    return dict(sorted(_REGISTRY.items()))


def get(type_id: str) -> "type[Node]":
    discover()
    try:
        return _REGISTRY[type_id]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(type_id, list(_REGISTRY), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "; `deepnodes nodes` lists the known types"
        raise KeyError(f"unknown node type '{type_id}'{hint}") from None


def describe(cls: "type[Node]") -> dict:
    """Everything a client needs to show a node type: ports, description and the JSON schema of its config
    (with its registry-filled drop-downs resolved, see `ui`)."""
    from .ui import editor_schema

    return {
        "type": cls.type_id,
        "name": cls.name,
        "category": cls.category,
        "description": cls.description,
        **cls.ports_json(),
        "config_schema": editor_schema(cls.Config.model_json_schema()),
    }

