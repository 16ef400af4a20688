"""What the editor's Deploy panel shows for an open workflow: whether it can be served, and the commands.

A workflow can be served when it has one Service Input and one Service Output connected through the nodes that
compute the answer (`segment.parts`, the check `serve-workflow` itself makes), and when the results of the nodes
feeding those come from its saved results: the editor saves every executed node's result beside the file, so they
are there when the document is saved (not changed since) and those nodes are executed.
"""
from __future__ import annotations

import shlex
from typing import Any, Mapping

from deepnodes.core import Workflow

from .segment import ServiceError, parts


def deploy_report(wf: Workflow, states: Mapping[str, str], path: str | None, dirty: bool) -> dict[str, Any]:
    """`states`: node id → engine state ("executed", "idle", ...). Returns {ready, checks: [{ok, text}], commands}."""
    checks: list[dict[str, Any]] = []
    shown = shlex.quote(path) if path else "WORKFLOW.json"
    try:
        input_id, output_id, served, _, feeding = parts(wf)
    except ServiceError as e:
        checks.append({"ok": False, "text": str(e)})
    else:
        checks.append({"ok": True, "text": f"Service Input '{input_id}' and Service Output '{output_id}' are "
                                           f"connected ({len(served)} nodes run per request)"})
        order = wf.topological_order()
        missing = sorted((n for n in feeding if states.get(n) != "executed"), key=order.index)
        if missing:
            names = ", ".join(f"'{n}' ({wf.nodes[n].label})" for n in missing[:5])
            checks.append({"ok": False, "text": f"no result yet for {names}: execute {'it' if len(missing) == 1 else 'them'}, "
                                                "then save (the results are saved with the workflow)"})
        else:
            k = len(feeding)
            checks.append({"ok": True, "text": f"the {k} node{'s' if k != 1 else ''} feeding the service "
                                               f"{'have' if k != 1 else 'has'} {'their' if k != 1 else 'its'} result"})
    if not path:
        checks.append({"ok": False, "text": "the workflow has no file yet: save it (Save as…)"})
    elif dirty:
        checks.append({"ok": False, "text": "the workflow has unsaved changes: save it, so the service reads what you see"})
    else:
        checks.append({"ok": True, "text": f"saved as {path}, results beside it"})
    return {"ready": all(c["ok"] for c in checks), "checks": checks,
            "commands": {"serve": f"deepnodes serve-workflow {shown}",
                         "run_first": f"deepnodes run {shown} --save-results",
                         "export": f"deepnodes export {shown} --out bundle"}}
