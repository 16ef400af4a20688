"""The fast path of a row-wise segment (image decoding, column steps, a Network Executor...).

A fresh engine per request costs about 6 ms here (configuring every node of the workflow, a thread pool and an
event dispatcher per run), more than the network itself. A segment whose served nodes all work row by row has
nothing to schedule, cache or cancel, so its nodes are built once and their own `execute` is called in
topological order, with the loaded upstream outputs: the same code as an engine run, hence the same rows
(a test compares both), and the Executor's ONNX Runtime session stays warm in `dl/infer.py`'s session cache.
Everything else (and `--no-fast-path`) goes through the engine (`Segment.run`).
"""
from __future__ import annotations

import threading
from typing import Any

from deepnodes.core import ExecutionContext
from deepnodes.core.engine import error_message

from .segment import NodeFailed, Segment


class FastPlan:
    def __init__(self, segment: Segment):
        wf = segment.workflow
        self.segment = segment
        self.order = [n for n in wf.topological_order() if n in segment.served and n != segment.input_id]
        self.nodes = {n: wf.instantiate(n) for n in self.order}
        self.labels = {n: wf.nodes[n].label for n in self.order}
        self.sources: dict[str, list[tuple[str, Any] | None]] = {}
        base = segment.base
        for n in self.order:
            ups = wf.upstream(n)
            srcs: list[tuple[str, Any] | None] = []
            for port in self.nodes[n].inputs:
                if port.name not in ups:
                    srcs.append(None)
                elif ups[port.name][0] in segment.served:
                    srcs.append(("served", ups[port.name]))
                else:  # a loaded upstream output: the same object for every request (port objects are values)
                    srcs.append(("given", base.output(*ups[port.name])))
            self.sources[n] = srcs
        self._never = threading.Event()
        self._port = {n: {p.name: i for i, p in enumerate(wf.instantiate(n).outputs)}
                      for n in segment.served}

    def run(self, table) -> Any:
        seg = self.segment
        outs: dict[str, list] = {seg.input_id: [table]}
        for n in self.order:
            inputs = []
            for src in self.sources[n]:
                if src is None:
                    inputs.append(None)
                elif src[0] == "given":
                    inputs.append(src[1])
                else:
                    nid, port = src[1]
                    inputs.append(outs[nid][self._port[nid].get(port, port) if isinstance(port, str) else port])
            ctx = ExecutionContext(n, _drop, self._never, None, seg.device)
            try:
                outs[n] = self.nodes[n].execute(inputs, ctx)
            except Exception as e:  # noqa: BLE001 - one sentence naming the node, as the engine words it
                raise NodeFailed(f"node '{n}' ({self.labels[n]}) failed: {error_message(e)}") from None
        return outs[seg.output_id][0]


def _drop(event: dict) -> None:
    """Per-request progress and log events have no one to go to."""
