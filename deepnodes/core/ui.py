"""Editor hints on node configs: JSON-schema annotations from which the editor generates a node's dialog.

The dialog is drawn from the config's JSON schema alone; these `x-` keys say how (all optional):

    x-group        the tab a field sits on ("General", "Optimizer", ...); fields without one go to the first tab
    x-show-if      when the field is shown: {"optimizer": ["sgd", "rmsprop"]} (every key must match one of
                   its values), or a list of such objects (any one must match)
    x-hidden       not in the dialog (an inherited option that does not apply here)
    x-widget       force a widget: "column", "new_column" (a column the node creates), "columns", "code", "json"
    x-enum         the options of a drop-down for a string field that also takes other values
    x-enum-source  fill a drop-down from a registry. Sources registered here with `@enum_source` are resolved
                   by the server into `x-enum` (a list) or, with `depends_on`, into `x-enum-map`
                   ({value of that field: options}) and `x-enum-depends`; the editor fills the sources
                   "network_inputs" / "network_outputs" itself from the node's input network spec.

On a field: ``Field(..., json_schema_extra=ui(group="Optimizer", show_if={"optimizer": ["sgd"]}))``.
For fields a config inherits (the Learner's training options), annotate the class instead:
``model_config = ConfigDict(json_schema_extra=annotate({"momentum": ui(...), "inputs.network_input": ui(...)}))``;
a dotted name reaches into the model that a list or object field refers to, and the fields are shown in the
order the annotation names them.
"""
from __future__ import annotations

from typing import Any, Callable

GROUP, SHOW_IF, WIDGET, ENUM_SOURCE, HIDDEN = "x-group", "x-show-if", "x-widget", "x-enum-source", "x-hidden"
CLIENT_SOURCES = frozenset({"network_inputs", "network_outputs"})

_PENDING = "x-ui"
_SOURCES: dict[str, tuple[Callable[[], Any], str | None]] = {}


def ui(group: str | None = None, show_if: dict | list | None = None, widget: str | None = None,
       enum_source: str | None = None, options: list[str] | None = None, hidden: bool = False) -> dict:
    """The `json_schema_extra` of one field; `options` is a fixed drop-down list for a string field; `hidden`
    keeps a field out of the dialog (it keeps its value or default)."""
    out: dict[str, Any] = {"x-enum": list(options)} if options is not None else {}
    if hidden:
        out[HIDDEN] = True
    if group is not None:
        out[GROUP] = group
    if show_if is not None:
        for cond in show_if if isinstance(show_if, list) else [show_if]:
            if not isinstance(cond, dict) or not all(isinstance(v, list) for v in cond.values()):
                raise ValueError(f"show_if must map field names to lists of values, got {cond!r}")
        out[SHOW_IF] = show_if
    if widget is not None:
        out[WIDGET] = widget
    if enum_source is not None:
        out[ENUM_SOURCE] = enum_source
    return out


def annotate(fields: dict[str, dict]) -> Callable[[dict], None]:
    """A model-level `json_schema_extra`: `fields[name]` (from `ui(...)`) is merged into that property by
    `editor_schema` (nested models are only reachable once the whole schema, with its `$defs`, exists)."""

    def apply(schema: dict) -> None:
        schema.setdefault(_PENDING, []).extend([k, v] for k, v in fields.items())  # a list: pydantic sorts dict keys

    return apply


def _find(schema: dict, parts: list[str], root: dict) -> dict | None:
    props = schema.get("properties", {})
    if parts[0] not in props:
        return None
    prop = props[parts[0]]
    if len(parts) == 1:
        return prop
    target = _deref(prop.get("items", prop), root)
    return _find(target, parts[1:], root) if target is not None else None


def _deref(s: dict, root: dict) -> dict | None:
    for alt in s.get("anyOf", [s]):
        ref = alt.get("$ref") or alt.get("items", {}).get("$ref")
        if ref:
            return root.get("$defs", {}).get(ref.split("/")[-1])
    return s if "properties" in s else None


def enum_source(name: str, depends_on: str | None = None):
    """Register `fn` as the enum source `name`: `fn()` returns the options, or with `depends_on` a mapping
    {value of the field `depends_on`: options}. Called when the node catalogue is described."""

    def register(fn: Callable[[], Any]) -> Callable[[], Any]:
        _SOURCES[name] = (fn, depends_on)
        return fn

    return register


def editor_schema(schema: dict) -> dict:
    """The schema the editor draws a dialog from (in place; returns it): the class-level annotations merged
    into their fields, every registered `x-enum-source` filled. A name that is not a field, or an unknown
    source the editor does not fill itself, is an error in the node's definition, raised naming it."""
    pending = dict(schema.pop(_PENDING, []))
    for dotted, extra in pending.items():
        prop = _find(schema, dotted.split("."), schema)
        if prop is None:
            raise KeyError(f"ui annotation names '{dotted}', which is not a field of {schema.get('title')}")
        prop.update(extra)
    if pending:  # the annotation's order is the dialog's order; fields it leaves out follow
        props = schema.get("properties", {})
        order = [k for k in pending if k in props] + [k for k in props if k not in pending]
        schema["properties"] = {k: props[k] for k in order}
    for prop in _properties(schema):
        src = prop.get(ENUM_SOURCE)
        if src is None or src in CLIENT_SOURCES:
            continue
        if src not in _SOURCES:
            raise KeyError(f"enum source '{src}' is not registered (known: {', '.join(sorted(_SOURCES)) or 'none'})")
        fn, depends = _SOURCES[src]
        values = fn()
        if depends is None:
            prop["x-enum"] = [str(v) for v in values]
        else:
            prop["x-enum-map"] = {str(k): [str(v) for v in vs] for k, vs in dict(values).items()}
            prop["x-enum-depends"] = depends
    return schema


def _properties(schema: dict):
    yield from schema.get("properties", {}).values()
    for d in schema.get("$defs", {}).values():
        yield from d.get("properties", {}).values()
