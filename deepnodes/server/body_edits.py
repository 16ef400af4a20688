"""Edits inside a node's body: an edit operation with `"in": "comp"` (or `"comp/inner"` for a body inside a body)
is applied to that node's inline body, as the editor does when a component is opened in place. The body is
rebuilt as a workflow (in the workflow's folder), the operation applied to it with the same rules as at the top
level, and written back as the node's `body` option; a body that is a file is refused (edit the file itself)."""
from __future__ import annotations

import copy
from typing import Callable

from deepnodes.core import Workflow, WorkflowError, registry
from deepnodes.core.workflow_file import FORMAT, short

MAX_DEPTH = 8


def apply_inside(wf: Workflow, op: dict, apply: Callable[[Workflow, dict], list[str] | None]) -> list[str] | None:
    path = op.get("in")
    if not isinstance(path, str) or not path or len(path) > 1000:
        raise WorkflowError("'in' must name the node whose body is edited (e.g. 'component1')")
    holder, _, rest = path.partition("/")
    if path.count("/") >= MAX_DEPTH:
        raise WorkflowError(f"'in' names bodies more than {MAX_DEPTH} deep")
    entry = wf._node(holder, "'in' names")
    cls = registry.get(entry.type)
    if "body" not in cls.Config.model_fields:
        raise WorkflowError(f"node '{short(holder)}' holds no body (it is a {entry.type.rsplit('.', 1)[-1]})")
    body = (entry.config or {}).get("body")
    if not body:
        file = (entry.config or {}).get("body_file")
        raise WorkflowError(f"node '{short(holder)}' has its body in the file '{short(file)}'; open that file to edit it"
                            if file else f"node '{short(holder)}' has no body yet")
    inner = Workflow.from_json({"format": FORMAT, "name": holder, "connections": [], **copy.deepcopy(body)},
                               wf.folder)
    inner_op = {k: v for k, v in op.items() if k != "in"}
    if rest:
        inner_op["in"] = rest
    created = apply(inner, inner_op)
    data = inner.to_json()
    wf.set_option(holder, "body", {"nodes": data["nodes"], "connections": data["connections"]})
    return created
