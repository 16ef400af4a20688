"""Workflows: nodes, connections, positions and labels, and their JSON file format.

File format (`"format": "deepnodes.workflow/1"`), keys in a stable order, one node per entry:

    {"format": "deepnodes.workflow/1", "name": "...",
     "nodes": [{"id": "reader", "type": "deepnodes.data.DatasetReader", "label": "Dataset Reader",
                "position": [0, 0], "config": {"dataset": "fashion-mnist"}}],
     "connections": [{"source": "reader", "source_port": "table", "target": "part", "target_port": "table"}]}

Ports are named (a port's index works too). Nothing is pickled.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import registry
from .node import Node
from .workflow_file import (FORMAT, SUPPORTED_FORMATS, WorkflowError, check_value, current_folder, parse, read_text,
                            relative_to, short, shown, validate)

__all__ = ["FORMAT", "SUPPORTED_FORMATS", "Connection", "NodeEntry", "Workflow", "WorkflowError", "pydantic_message"]

# pydantic's union and wrapper steps in an error location ('int', 'list[int]', 'constrained-int',
# 'function-after[...]'), not options: an option name has neither '-' nor '['
_TYPE_STEP = re.compile(r"^(int|float|str|bool|none|.*[-\[].*)$")


def pydantic_message(err: ValidationError, node_id: str) -> str:
    e = err.errors()[0]
    loc = ".".join(str(x) for x in e["loc"] if not (isinstance(x, str) and _TYPE_STEP.match(x))) or "config"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        return f"node '{node_id}' has no option '{loc}'"
    if e["type"] == "missing":
        return f"node '{node_id}' option '{loc}' must be set"
    got = f"; it is {shown(e['input'])}" if "input" in e and not isinstance(e["input"], dict) else ""
    return f"node '{node_id}' option '{loc}': {msg[0].lower() + msg[1:]}{got}"


@dataclass
class NodeEntry:
    id: str
    type: str
    config: dict = field(default_factory=dict)
    label: str = ""
    position: tuple[float, float] = (0.0, 0.0)

    def to_json(self) -> dict:
        return {"id": self.id, "type": self.type, "label": self.label, "position": list(self.position),
                "config": self.config}


@dataclass(frozen=True)
class Connection:
    source: str
    source_port: str
    target: str
    target_port: str

    def to_json(self) -> dict:
        return {"source": self.source, "source_port": self.source_port, "target": self.target,
                "target_port": self.target_port}


class Workflow:
    """A graph of nodes. Mutations validate as they go; `instantiate()` builds the `Node` objects."""

    def __init__(self, name: str = "workflow", description: str = "", runtime: str = ""):
        self.name = name
        self.description = description  # what it is for and how long it runs: shown on the start page
        self.runtime = runtime
        self.nodes: dict[str, NodeEntry] = {}
        self.connections: list[Connection] = []
        self.path: Path | None = None
        self._folder: Path | None = None  # where relative body files are read from, when there is no path

    @property
    def folder(self) -> Path | None:
        """The folder a relative `body_file` is read from: the workflow file's (or the one it was built for)."""
        return self.path.parent if self.path is not None else self._folder

    # ------------------------------------------------------------------ building
    def add(self, type_id: str, id: str | None = None, config: dict | None = None, label: str = "",
            position: tuple[float, float] = (0.0, 0.0)) -> str:
        """Add a node; returns its id. The config is validated now, so a bad option fails here."""
        if id is not None and (not isinstance(id, str) or not 0 < len(id) <= 200):
            raise WorkflowError(f"a node id is a text of 1 to 200 characters; it is {shown(id)}")
        if not isinstance(type_id, str):
            raise WorkflowError(f"node '{id}': a node type is a text such as 'deepnodes.data.CSVReader'; "
                                f"it is {shown(type_id)}")
        try:
            cls = registry.get(type_id)
        except KeyError as e:
            raise WorkflowError(f"node '{id or short(type_id)}': {short(e.args[0], 400)}") from None
        if id is None:
            base = cls.__name__.lower()
            i = 1
            while f"{base}{i}" in self.nodes:
                i += 1
            id = f"{base}{i}"
        if id in self.nodes:
            raise WorkflowError(f"node id '{id}' is used twice")
        cfg = self._validated_config(cls, id, config or {})
        if not isinstance(label, str) or not (isinstance(position, (list, tuple)) and len(position) == 2
                                              and all(_finite_number(x) for x in position)):
            raise WorkflowError(f"node '{id}': a label is a text and a position two finite numbers; "
                                f"they are {shown(label)} and {shown(position)}")
        self.nodes[id] = NodeEntry(id, type_id, cfg, label or cls.name, (float(position[0]), float(position[1])))
        return id

    def _validated_config(self, cls: type[Node], node_id: str, config: dict) -> dict:
        """Strict, as JSON reads: `true` is not a number, "3" is not an integer; no NaN, no int beyond 64 bits."""
        if not isinstance(config, dict):
            raise WorkflowError(f"node '{node_id}': a config is a JSON object of options; it is {shown(config)}")
        check_value(config, f"node '{node_id}' config")
        try:
            text = json.dumps(config, allow_nan=False)
        except (TypeError, ValueError):
            text = None  # Python objects from the API (numpy numbers...): validated as Python values
        try:
            if text is None:
                model = cls.Config.model_validate(config)
            else:
                model = cls.Config.model_validate_json(text, strict=True)
        except ValidationError as e:
            raise WorkflowError(pydantic_message(e, node_id)) from None
        # keep what the user wrote, normalised through the model (defaults left out, stable JSON)
        return json.loads(model.model_dump_json(exclude_defaults=True))

    def remove(self, node_id: str) -> None:
        self._node(node_id)
        del self.nodes[node_id]
        self.connections = [c for c in self.connections if node_id not in (c.source, c.target)]

    def set_config(self, node_id: str, config: dict) -> None:
        entry = self._node(node_id)
        entry.config = self._validated_config(registry.get(entry.type), node_id, config)

    def set_option(self, node_id: str, path: str, value: Any) -> None:
        """Set one option (a dotted path into the config), as `--set node.option=value` does.

        A list item is named by its index (0, 1, ...), within the list; a path never creates a new key.
        """
        entry = self._node(node_id, "--set names")
        cls = registry.get(entry.type)
        full = cls.Config.model_validate(entry.config).model_dump(mode="json")
        keys = path.split(".")
        top = keys[0]
        exposed = getattr(cls.Config, "exposed_names", None)  # a component's exposed inner options
        names = [*cls.Config.model_fields, *(exposed(full) if exposed else ())]
        if top not in names:
            opts = ", ".join(names) or "none"
            raise WorkflowError(f"node '{node_id}' has no option '{short(top)}'; its options are {opts}")
        cur: Any = full
        for depth, k in enumerate(keys):
            here = ".".join(keys[:depth + 1])
            last = depth == len(keys) - 1
            if isinstance(cur, list):
                if not k.isdigit():
                    raise WorkflowError(f"node '{node_id}' option '{short(path)}': '{short(k)}' is not a list index; "
                                        f"option '{short('.'.join(keys[:depth]))}' is a list of {len(cur)} (indices 0 "
                                        f"to {len(cur) - 1})")
                i = int(k)
                if i >= len(cur):
                    raise WorkflowError(f"node '{node_id}' option '{short(path)}': index {short(k)} is out of range; "
                                        f"option '{short('.'.join(keys[:depth]))}' is a list of {len(cur)}")
                k = i
            elif not isinstance(cur, dict) or (k not in cur and (depth > 0 or not last)):
                raise WorkflowError(f"node '{node_id}' option '{short(here)}' does not exist")
            if last:
                cur[k] = value
            else:
                cur = cur[k]
        entry.config = self._validated_config(cls, node_id, full)

    def connect(self, source: str, source_port: str | int, target: str, target_port: str | int) -> Connection:
        s, t = self._node(source, "connection source"), self._node(target, "connection target")
        souts, tins = node_ports(s, self.folder)[1], node_ports(t, self.folder)[0]
        sp = _port(souts, source_port, f"node '{source}' has no output port '{short(source_port)}'")
        tp = _port(tins, target_port, f"node '{target}' has no input port '{short(target_port)}'")
        if sp.type != tp.type:
            raise WorkflowError(
                f"cannot connect '{source}.{sp.name}' ({sp.type}) to '{target}.{tp.name}' ({tp.type}): "
                f"a {sp.type} port only connects to a {sp.type} port")
        for c in self.connections:
            if c.target == target and c.target_port == tp.name:
                raise WorkflowError(f"input '{target}.{tp.name}' is already connected to '{c.source}.{c.source_port}'")
        conn = Connection(source, sp.name, target, tp.name)
        self.connections.append(conn)
        if self._has_cycle():
            self.connections.pop()
            raise WorkflowError(f"connecting '{source}' to '{target}' would make a cycle")
        return conn

    def disconnect(self, target: str, target_port: str) -> None:
        self.connections = [c for c in self.connections if not (c.target == target and c.target_port == target_port)]

    def _node(self, node_id: str, what: str = "node") -> NodeEntry:
        entry = self.nodes.get(node_id) if isinstance(node_id, str) else None
        if entry is None:
            have = short(", ".join(repr(n) for n in self.nodes) or "none")
            raise WorkflowError(f"{what}: there is no node '{short(node_id)}' in the workflow (nodes: {have})")
        return entry

    # ------------------------------------------------------------------ graph
    def upstream(self, node_id: str) -> dict[str, tuple[str, str]]:
        """target port name -> (source node, source port) for one node."""
        return {c.target_port: (c.source, c.source_port) for c in self.connections if c.target == node_id}

    def downstream(self, node_id: str) -> set[str]:
        """All nodes that depend on `node_id`, transitively (not including it)."""
        return self._reach(node_id, forward=True)

    def ancestors(self, node_id: str) -> set[str]:
        """All nodes `node_id` depends on, transitively (not including it)."""
        return self._reach(node_id, forward=False)

    def _reach(self, node_id: str, forward: bool) -> set[str]:
        out: set[str] = set()
        todo = [node_id]
        while todo:
            n = todo.pop()
            for c in self.connections:
                here, there = (c.source, c.target) if forward else (c.target, c.source)
                if here == n and there not in out:
                    out.add(there)
                    todo.append(there)
        return out

    def topological_order(self) -> list[str]:
        indeg = {n: 0 for n in self.nodes}
        for c in self.connections:
            indeg[c.target] += 1
        ready = [n for n in self.nodes if indeg[n] == 0]
        order = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for c in self.connections:
                if c.source == n:
                    indeg[c.target] -= 1
                    if indeg[c.target] == 0:
                        ready.append(c.target)
        if len(order) != len(self.nodes):
            stuck = sorted(set(self.nodes) - set(order))
            raise WorkflowError(f"the workflow has a cycle through nodes {', '.join(repr(s) for s in stuck)}")
        return order

    def _has_cycle(self) -> bool:
        try:
            self.topological_order()
            return False
        except WorkflowError:
            return True

    def instantiate(self, node_id: str) -> Node:
        e = self.nodes[node_id]
        cls = registry.get(e.type)
        with relative_to(self.folder):
            return cls(cls.Config.model_validate(e.config), label=e.label)

    # ------------------------------------------------------------------ file format
    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "name": self.name,
            **({"description": self.description} if self.description else {}),
            **({"runtime": self.runtime} if self.runtime else {}),
            "nodes": [e.to_json() for e in self.nodes.values()],
            "connections": [c.to_json() for c in self.connections],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | Path) -> None:
        import os
        import tempfile

        path = Path(path)
        # a new, uniquely named temporary file (O_EXCL: never a file or link that was there), then an atomic
        # replace: a failure never leaves half a workflow file, and nothing is written through a planted link
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.dumps())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.path = path

    @classmethod
    def from_json(cls, data: Any, folder: str | Path | None = None) -> "Workflow":
        """A workflow from the file's JSON data: the whole file is checked against the format first. `folder`:
        where its relative body files are (the workflow file's folder; default: the one being loaded, if any)."""
        f = validate(data)
        wf = cls(f.name, f.description, f.runtime)
        wf._folder = Path(folder) if folder is not None else current_folder()
        for n in f.nodes:
            wf.add(n.type, n.id, n.config, n.label, tuple(n.position))
        for c in f.connections:
            wf.connect(c.source, c.source_port, c.target, c.target_port)
        return wf

    @classmethod
    def loads(cls, text: str, folder: str | Path | None = None) -> "Workflow":
        return cls.from_json(parse(text), folder)

    @classmethod
    def load(cls, path: str | Path) -> "Workflow":
        path = Path(path)
        wf = cls.loads(read_text(path), path.parent)
        wf.path = path
        return wf


def node_ports(entry: NodeEntry, folder: Path | None = None) -> tuple[list, list]:
    """A node's (inputs, outputs): its class's ports, or those its config defines (`ports_for`: a component's
    ports come from its body, a Component Input's type from its options). `folder`: the workflow's folder."""
    cls = registry.get(entry.type)
    ports_for = getattr(cls, "ports_for", None)
    if not ports_for:
        return cls.inputs, cls.outputs
    with relative_to(folder):
        return ports_for(entry.config, entry.id)


def _finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf")


def _port(ports, key: str | int, msg: str):
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise WorkflowError(f"{msg}: a port is given by its name or its number (0, 1, ...)")
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        i = int(key)
        if 0 <= i < len(ports):
            return ports[i]
        raise WorkflowError(msg)
    for p in ports:
        if p.name == key:
            return p
    names = ", ".join(p.name for p in ports) or "none"
    raise WorkflowError(f"{msg} (its ports: {names})")
