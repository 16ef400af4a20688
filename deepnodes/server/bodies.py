"""The request bodies of the API as pydantic models: validated by FastAPI and described in its OpenAPI schema
(which the tests fuzz). Unknown fields are ignored, so an older editor keeps working. A validation error becomes
one sentence naming the field (`validation_message`)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NewDoc(Body):
    name: str | None = Field(None, max_length=200, description="the workflow's name")


class OpenDoc(Body):
    path: str | None = Field(None, max_length=500, description="a workflow file in the workspace")
    example: str | None = Field(None, max_length=200, description="the file name of an example workflow")


class ImportDoc(Body):
    workflow: dict[str, Any] = Field(description="the workflow as its JSON file holds it")
    path: str | None = Field(None, max_length=500)
    example: str | None = Field(None, max_length=200)
    dirty: bool = False


class SaveAs(Body):
    path: str = Field(max_length=500, description="where to save, relative to the workspace")
    overwrite: bool = False


OPS = ["add", "remove", "connect", "disconnect", "move", "label", "config", "rename", "make_component"]
_TEXT = {"type": "string"}
#: what one operation may hold (described for the schema and its fuzzing; checked by `Document.edit`)
EDIT_OP = {"type": "object", "required": ["op"], "properties": {
    "op": {"enum": OPS}, "id": _TEXT, "type": _TEXT, "label": _TEXT, "name": _TEXT, "config": {"type": "object"},
    "position": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
    "source": _TEXT, "source_port": _TEXT, "target": _TEXT, "target_port": _TEXT,
    "nodes": {"type": "array", "items": _TEXT, "maxItems": 1000},
    "in": {"type": "string", "description": "the node whose body the operation edits ('comp', 'comp/inner')"}}}


class Edit(Body):
    ops: list[dict[str, Any]] = Field(min_length=1, max_length=5000, json_schema_extra={"items": EDIT_OP},
                                      description="edit operations: " + ", ".join(OPS) + "; applied all or none")


class Validate(Body):
    node: str = Field(max_length=100)
    config: dict[str, Any]


class Execute(Body):
    nodes: list[str] | None = Field(None, max_length=5000, description="node ids to run (with what they need)")


class NodeRef(Body):
    node: str | None = Field(None, max_length=100)


class Close(Body):
    discard: bool = Field(False, description="close even though the workflow has unsaved changes")
    client: str | None = Field(None, max_length=100, description="the closing page's client id (its WebSocket's "
                                                                  "`client`): other pages watching keep it open")


def validation_message(errors: list[dict]) -> str:
    """One sentence for FastAPI's validation errors: the first problem, naming the field."""
    if not errors:
        return "the request is not valid"
    e = errors[0]
    loc = [str(x) for x in e.get("loc", ())]
    where, field = (loc[0], ".".join(loc[1:])) if loc else ("body", "")
    kind = {"query": "query parameter", "path": "part of the address", "body": "request field"}.get(where, where)
    if e.get("type") == "missing":
        return f"the {kind} '{field}' is required" if field else "the request needs a JSON body"
    msg = str(e.get("msg", "is not valid"))
    msg = msg[0].lower() + msg[1:] if msg else msg
    return f"the {kind} '{field}' is not valid: {msg}" if field else f"the request body is not valid: {msg}"


class TryText(Body):
    """The editor's try-it box (`routes_text.py`)."""
    text: str = Field(min_length=1, max_length=1000, description="a seed text (Text Generator) or a sentence to "
                                                                  "translate (Sequence-to-Sequence Decoder)")
    length: int | None = Field(None, ge=1, le=400, description="Text Generator: tokens to generate (empty: the "
                                                               "node's option 'length', at most 400)")
