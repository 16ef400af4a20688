"""Hypothesis strategies for the trust tests and `benchmarks/reliability.py`: workflow files built from the real
registry's node types and their config schemas (mostly plausible, sometimes broken), `--set` expressions,
and the check that an outcome is clean (a valid workflow, or one sentence in a WorkflowError / on the node).
"""
from __future__ import annotations

import json
import os
import traceback
from typing import Any

from hypothesis import strategies as st

from deepnodes.core import registry
from deepnodes.core.workflow_file import FORMAT

registry.discover()


def examples(n: int) -> int:
    """n generated examples, times DEEPNODES_FUZZ_SCALE (default 1) for a longer hunt."""
    return n * int(os.environ.get("DEEPNODES_FUZZ_SCALE", "1"))


NODE_TYPES = sorted(registry.all_nodes())
IDS = ["a", "b", "c", "reader", "n1"]

#: exception classes a node may raise for bad input: each carries one sentence for the user
CLEAN_ERRORS = ("NodeError", "ColumnError", "ValueError", "WorkflowError", "FileNotFoundError", "IsADirectoryError",
                "NotADirectoryError", "PermissionError", "ValidationError", "Cancelled")

scalars = (st.none() | st.booleans() | st.integers(-5, 5) | st.integers() | st.integers(2 ** 63 - 2, 2 ** 70)
           | st.floats() | st.text(max_size=12) | st.sampled_from(["", "-1", "1e23", "true", "NaN", "[]", "x" * 300]))
junk = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                    max_leaves=6)


def _resolve(schema: dict, defs: dict) -> dict:
    while "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    return schema


def from_schema(schema: dict, defs: dict, depth: int = 0) -> st.SearchStrategy:
    """Values a JSON schema allows, biased to its edges (the bounds, empty lists)."""
    schema = _resolve(schema, defs)
    if depth > 4:
        return st.none()
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, defs, depth + 1) for s in schema[key]])
    t = schema.get("type")
    if t == "integer":
        lo = schema.get("minimum", schema.get("exclusiveMinimum", -3) + (1 if "exclusiveMinimum" in schema else 0))
        hi = schema.get("maximum", lo + 1000)
        return st.integers(lo, min(hi, lo + 64)) | st.sampled_from([lo, hi, min(lo + 1, hi)])
    if t == "number":
        lo = schema.get("minimum", schema.get("exclusiveMinimum", -10.0))
        hi = schema.get("maximum", schema.get("exclusiveMaximum", lo + 100.0))
        ok = [x for x in (lo, hi, 0.0, 1.0) if lo <= x <= hi and (x != lo or "exclusiveMinimum" not in schema)
              and (x != hi or "exclusiveMaximum" not in schema)]
        return st.floats(lo, hi, allow_nan=False, exclude_min="exclusiveMinimum" in schema,
                         exclude_max="exclusiveMaximum" in schema) | st.sampled_from(ok or [(lo + hi) / 2])
    if t == "boolean":
        return st.booleans()
    if t == "string":
        return st.text(max_size=10) | st.sampled_from(["", "label", "image", "class_name", "x", "relu", "auto"])
    if t == "null":
        return st.none()
    if t == "array":
        if "prefixItems" in schema:
            return st.tuples(*[from_schema(s, defs, depth + 1) for s in schema["prefixItems"]]).map(list)
        items = schema.get("items") or {}
        return st.lists(from_schema(items, defs, depth + 1) if items else junk, max_size=3)
    if t == "object":
        props = schema.get("properties", {})
        if not props:
            return st.dictionaries(st.text(max_size=6), scalars, max_size=2)
        return st.fixed_dictionaries({}, optional={k: from_schema(v, defs, depth + 1) for k, v in props.items()})
    return junk


_CONFIGS: dict[str, st.SearchStrategy] = {}


def configs(type_id: str, wrong: bool = False) -> st.SearchStrategy:
    """A node type's config: some options set from its schema; `configs(t, wrong=True)`: some of the wrong kind."""
    if (type_id, wrong) not in _CONFIGS:
        sch = registry.get(type_id).Config.model_json_schema()
        defs = sch.get("$defs", {})
        props = sch.get("properties", {})
        plausible = {k: from_schema(v, defs) for k, v in props.items()}
        bad = {k: junk for k in props}
        _CONFIGS[type_id, wrong] = st.fixed_dictionaries(
            {}, optional={**plausible, **bad, "no_such_option": junk} if wrong else plausible)
    return _CONFIGS[type_id, wrong]


def _port_type(type_id: str, kind: str, name: str) -> str:
    return next(p.type for p in getattr(registry.get(type_id), kind) if p.name == name)


@st.composite
def workflow_data(draw) -> dict:
    """The JSON data of a workflow file: real node types, plausible configs and connections of matching port
    types; about one place in sixteen (an id, a type, a config, a label, a position, a connection, a top-level
    key) is broken with a value of the wrong kind."""
    broken = st.sampled_from([False] * 15 + [True])
    nodes = []
    for i in range(draw(st.integers(0, 6))):
        t = draw(st.sampled_from(NODE_TYPES))
        entry: dict[str, Any] = {"id": f"n{i}" if not draw(broken) else draw(junk | st.sampled_from(IDS)), "type": t}
        if draw(broken):
            entry["type"] = draw(junk | st.just(t + "x"))
        if draw(st.booleans()):
            entry["config"] = draw(configs(t, wrong=draw(broken))) if not draw(broken) else draw(junk)
        if draw(st.booleans()):
            entry["label"] = draw(st.text(max_size=20)) if not draw(broken) else draw(junk)
        if draw(st.booleans()):
            entry["position"] = (draw(st.lists(st.floats(-1e4, 1e4), min_size=2, max_size=2)) if not draw(broken)
                                 else draw(junk))
        if draw(broken):
            entry[draw(st.text(max_size=5))] = draw(junk)
        nodes.append(entry)
    real = [n for n in nodes if isinstance(n["type"], str) and n["type"] in NODE_TYPES]
    pairs = [(s, o.name, t, i.name) for s in real for o in registry.get(s["type"]).outputs
             for t in real if t is not s for i in registry.get(t["type"]).inputs
             if o.type == _port_type(t["type"], "inputs", i.name)]
    connections = []
    for _ in range(draw(st.integers(0, 5)) if pairs else 0):
        s, sp, t, tp = draw(st.sampled_from(pairs))
        c = {"source": s["id"], "source_port": sp if draw(st.booleans()) else
             [p.name for p in registry.get(s["type"]).outputs].index(sp),
             "target": t["id"], "target_port": tp}
        if draw(broken):
            c[draw(st.sampled_from(list(c) + ["extra"]))] = draw(junk)
        if draw(broken):
            del c[draw(st.sampled_from(list(c)))]
        connections.append(c)
    data: dict[str, Any] = {"format": FORMAT, "name": draw(st.text(max_size=10)), "nodes": nodes,
                            "connections": connections}
    if draw(broken):
        key = draw(st.sampled_from(["format", "name", "nodes", "connections", "extra"]))
        if draw(st.booleans()):
            data.pop(key, None)
        else:
            data[key] = draw(junk)
    return data


def set_expressions(wf) -> st.SearchStrategy:
    """`--set NODE.PATH=VALUE` texts for a workflow: real nodes and options, paths into lists and beyond."""
    nodes = list(wf.nodes)

    @st.composite
    def expr(draw) -> str:
        nid = draw(st.sampled_from(nodes) | st.text(max_size=4))
        entry = wf.nodes.get(nid)
        options = list(registry.get(entry.type).Config.model_fields) if entry else ["x"]
        parts = [draw(st.sampled_from(options) | st.text(max_size=4))]
        for _ in range(draw(st.integers(0, 3))):
            parts.append(draw(st.sampled_from(["0", "1", "5", "-1", "x", "01", "99999999999999999999", "columns",
                                               "loss", ""]) | st.text(max_size=3)))
        raw = draw(st.one_of(scalars.map(lambda v: json.dumps(v) if not isinstance(v, str) else v),
                             junk.map(json.dumps), st.text(max_size=8),
                             st.sampled_from(["true", "false", "null", "1e23", "-1", "0", "3", "2.5", "Infinity",
                                              "-Infinity", "NaN", "[" * 200, "9" * 30, "[1, 2]", '{"a": 1}'])))
        return f"{nid}.{'.'.join(parts)}={raw}"

    return expr()


def is_user_error(e: BaseException) -> bool:
    """An exception of a class that carries a sentence for the user (a library's UnicodeDecodeError does not)."""
    from deepnodes.core import NodeError

    if isinstance(e, UnicodeError):
        return False
    return isinstance(e, (ValueError, NodeError, FileNotFoundError, IsADirectoryError, NotADirectoryError,
                          PermissionError))


def check_sentence(message: str, where: str = "") -> None:
    """A clean message: one line, not empty, not a Python repr of an exception, echoes cut (well under 2,000)."""
    assert message and message.strip(), f"{where}: empty message"
    assert "\n" not in message, f"{where}: a message of several lines: {message[:300]!r}"
    assert "Traceback" not in message, f"{where}: {message[:300]!r}"
    assert len(message) < 2000, f"{where}: a message of {len(message)} characters: {message[:300]!r}"


def exception_class(tb: str) -> str:
    """The class name of the exception a formatted traceback ends with."""
    lines = tb.strip().split("\n")
    frames = [i for i, line in enumerate(lines) if line.startswith("  ")]  # the message itself may hold newlines
    head = lines[frames[-1] + 1] if frames and frames[-1] + 1 < len(lines) else lines[-1]
    return head.split(":", 1)[0].rsplit(".", 1)[-1]


def configure_is_clean(wf) -> list[str]:
    """Configure a valid workflow; returns the problems: an escaped exception, or a node error that is not a sentence."""
    from deepnodes.core import Engine

    problems = []
    try:
        statuses = Engine(wf).configure()
    except Exception:  # noqa: BLE001 - the point is to see it
        return [f"configure raised: {traceback.format_exc(limit=3)}"]
    for nid, s in statuses.items():
        if s.state == "idle":
            try:
                check_sentence(s.message, nid)
            except AssertionError as e:
                problems.append(str(e))
            if s.traceback and exception_class(s.traceback) not in CLEAN_ERRORS:
                problems.append(f"node '{nid}' ({wf.nodes[nid].type}) configure raised "
                                f"{exception_class(s.traceback)}: {s.message[:200]}\n{s.traceback[-1500:]}")
    return problems



SOURCES = [("deepnodes.data.DatasetReader", st.fixed_dictionaries({"dataset": st.sampled_from(
    ["digits", "mnist", "fashion-mnist", "lfw-faces", "kjv-bible", "en-de-pairs"])})),
           ("deepnodes.layers.Input", st.fixed_dictionaries({}, optional={"shape": st.sampled_from(
               [[1, 28, 28], [10], [20, 8], [3, 32, 32], [None, 4], [0], [1, 1, 1]]), "dtype": st.sampled_from(
               ["float32", "int64"])}))]


@st.composite
def chain_data(draw) -> dict:
    """A source that configures without files (a dataset, an Input layer) and a chain of nodes, each fed by the one
    before through the first input of a matching port type: `configure` then runs on real specs."""
    t, cfg = draw(st.sampled_from(SOURCES))
    nodes = [{"id": "n0", "type": t, "config": draw(cfg)}]
    connections = []
    for i in range(1, draw(st.integers(1, 6))):
        prev = registry.get(nodes[-1]["type"])
        outs = {o.type for o in prev.outputs}
        fits = [x for x in NODE_TYPES if any(p.type in outs for p in registry.get(x).inputs)]
        if not fits:
            break
        t = draw(st.sampled_from(fits))
        cls = registry.get(t)
        port = next(p for p in cls.inputs if p.type in outs)
        src = next(o for o in prev.outputs if o.type == port.type)
        nodes.append({"id": f"n{i}", "type": t, "config": draw(configs(t))})
        connections.append({"source": f"n{i - 1}", "source_port": src.name, "target": f"n{i}", "target_port": port.name})
    return {"format": FORMAT, "name": "chain", "nodes": nodes, "connections": connections}
