"""The served part of a workflow: Service Input → ... → Service Output, run through the engine per request.

Everything the segment needs that does not depend on the request (readers, the Learner) comes from the
workflow's saved results, loaded once by a base engine; it is never re-run per request. Each request (or
micro-batch of requests) gets a fresh `Engine` whose statuses for those upstream nodes share the loaded outputs
(port objects are values: no node changes them) and whose Service Input holds the request's table; the engine
then runs only the nodes downstream of Service Input that Service Output needs. So any workflow can be served.
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

from deepnodes.core import Engine, Workflow, WorkflowError

from .schema import ServiceColumn

INPUT_TYPE = "deepnodes.service.ServiceInput"
OUTPUT_TYPE = "deepnodes.service.ServiceOutput"
#: node types that work row by row (each output row depends only on the same input row): a segment made only of
#: these can run many requests as one table and split the result (micro-batching)
ROW_WISE = {INPUT_TYPE, OUTPUT_TYPE, "deepnodes.data.ImageToTensor", "deepnodes.dl.NetworkExecutor",
            "deepnodes.data.ColumnFilter", "deepnodes.data.NormalizerApply", "deepnodes.data.CategoryToNumber",
            "deepnodes.data.ColumnsToTensor", "deepnodes.data.OneHot"}
TEXT_IDS = "deepnodes.text.TextToIndexSequence"


def row_wise(entry) -> bool:
    """Whether a workflow node works row by row (see ROW_WISE). Text to Index Sequence does when its rows do not
    depend on each other: a fixed `length`, or token sequences (`pad` off); padding to the table's longest row
    makes a row's length depend on the rows beside it in a micro-batch."""
    if entry.type == TEXT_IDS:
        return entry.config.get("length") is not None or entry.config.get("pad", True) is False
    return entry.type in ROW_WISE


class ServiceError(WorkflowError):
    """The workflow cannot be served as it is (one sentence: which node, what to do)."""


class NodeFailed(RuntimeError):
    """A node of the served segment failed on a request: one sentence naming it."""


def _one(wf: Workflow, type_id: str, what: str) -> str:
    ids = [n for n, e in wf.nodes.items() if e.type == type_id]
    if len(ids) != 1:
        have = "has none" if not ids else f"has {len(ids)} ({', '.join(ids)})"
        raise ServiceError(f"a served workflow needs exactly one {what} node; '{wf.name}' {have}")
    return ids[0]


def parts(wf: Workflow) -> tuple[str, str, set[str], set[str], set[str]]:
    """(Service Input, Service Output, the nodes run per request, the nodes whose saved results are used, those of
    them feeding the served nodes directly), or a `ServiceError` saying what is missing."""
    input_id = _one(wf, INPUT_TYPE, "Service Input")
    output_id = _one(wf, OUTPUT_TYPE, "Service Output")
    below = wf.downstream(input_id) | {input_id}
    if output_id not in below:
        raise ServiceError(f"the Service Output '{output_id}' does not depend on the Service Input "
                           f"'{input_id}'; connect them through the nodes that compute the answer")
    wanted = wf.ancestors(output_id) | {output_id}
    served, upstream = wanted & below, wanted - below
    feeding = {c.source for c in wf.connections if c.target in served and c.source in upstream}
    return input_id, output_id, served, upstream, feeding


class Segment:
    def __init__(self, workflow: Workflow, results_dir: str | Path, workflow_path: str = "WORKFLOW.json",
                 run_first: bool = False, device: str | None = None):
        wf = self.workflow = workflow
        self.input_id, self.output_id, self.served, self.upstream, self._feeding = parts(wf)
        # served: run per request; upstream: from saved results
        self.device = device
        self.workflow_path = workflow_path
        self.results_dir = Path(results_dir)
        base = self.base = Engine(wf, device=device)
        base.load_results(self.results_dir)
        base.configure()
        for nid in sorted(self.served, key=wf.topological_order().index):
            st = base.status[nid]
            if st.state == "idle" and not st.message.startswith("waiting for"):
                raise ServiceError(f"node '{nid}' ({wf.nodes[nid].label}) is not configured: {st.message}")
        missing = self._missing()
        if missing and run_first:
            res = base.run(nodes=sorted(missing))
            if not res.ok:
                bad = (res.failed or res.not_executable or sorted(missing))[0]
                raise ServiceError(f"--run-first: node '{bad}' ({wf.nodes[bad].label}) did not run: "
                                   f"{base.status[bad].message}")
            base.save_results(self.results_dir)
            missing = self._missing()
        if missing:
            first = sorted(missing, key=wf.topological_order().index)[0]
            raise ServiceError(f"node '{first}' ({wf.nodes[first].label}) has no saved result; run it first "
                               f"(deepnodes run {workflow_path} --save-results) or serve with --run-first")
        cfg = wf.instantiate(self.input_id).config
        self.columns: list[ServiceColumn] = list(cfg.columns)
        self.example: dict[str, Any] = dict(cfg.example)
        self.max_rows: int = cfg.max_rows
        self.output_columns: list[str] = list(wf.instantiate(self.output_id).config.columns)
        self.row_wise = all(row_wise(wf.nodes[n]) for n in self.served)
        self._lock = threading.Lock()

    def _missing(self) -> set[str]:
        """Upstream nodes feeding the segment directly whose result is not there (or only partial)."""
        st = self.base.status
        return {n for n in self._feeding if st[n].state != "executed" or st[n].partial or st[n].outputs is None}

    def output_spec(self):
        return self.base.status[self.output_id].specs[0] if self.base.status[self.output_id].specs else None

    def run(self, table) -> Any:
        """The Service Output table for one request table; `NodeFailed` names the node that failed."""
        eng = Engine(self.workflow, max_workers=1, device=self.device)
        for nid in self.upstream:
            eng.status[nid] = dataclasses.replace(self.base.status[nid])
        inp = dataclasses.replace(self.base.status[self.input_id])
        inp.outputs, inp.state, inp.partial = [table], "executed", False
        eng.status[self.input_id] = inp
        res = eng.run(nodes=[self.output_id])
        if res.failed or res.not_executable or res.cancelled:
            nid = (res.failed or res.not_executable or [self.output_id])[0]
            raise NodeFailed(f"node '{nid}' ({self.workflow.nodes[nid].label}) failed: {eng.status[nid].message}")
        return eng.output(self.output_id)
