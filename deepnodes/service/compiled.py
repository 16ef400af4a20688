"""The fastest path: a segment Service Input → row-wise image, number or text steps → Network Executor → Service
Output run by the bundle's runner (`deepnodes/bundle/predict.py`: the preprocessing as data, then one ONNX Runtime call).

Calling the nodes themselves (`fast.py`) costs ~2 ms of CPU per request on the Fashion-MNIST example (Image to
Tensor's table, the Executor's conversion and checks, its predictions table) where the network takes ~0.25 ms.
`deepnodes export` already compiles exactly this pattern into data (`bundle.export.plan_for`) and its runner is
tested to give the workflow's numbers, so the service compiles the segment the same way, once, and runs it with
the Executor's own warm session (`dl/infer.py`'s cache): one implementation of those steps, not a third. A test
compares its answers with the nodes' through real HTTP. Anything the plan does not carry (other nodes, options
the runner does not model, a response column other than the predicted class and its probability, a CUDA
device) is not compiled: `compile_segment` says why and the service uses `fast.py`.
"""
from __future__ import annotations

from typing import Any

from .segment import NodeFailed, Segment

EXECUTOR = "deepnodes.dl.NetworkExecutor"
#: ONNX Runtime intra-op threads of the service's session: the event loop's thread runs the micro-batches, and the
#: other cores parse requests (or serve other workers); with 2 threads, ORT's spinning pool thread took that core
#: (server CPU per request 0.40-0.82 ms against 0.38-0.47 ms with 1, Fashion-MNIST at concurrency 32, under load)
ORT_THREADS = 1


class NotCompiled(Exception):
    """The segment does not match the pattern the bundle's runner carries (the message says what differs)."""


class BundlePlan:
    def __init__(self, segment: Segment, bundle: dict, session, ex_id: str):
        self.segment, self.bundle, self.session, self.ex_id = segment, bundle, session, ex_id
        self.out_names = [o["name"] for o in bundle["outputs"]]
        self.columns = list(segment.output_columns)

    def run(self, table) -> Any:
        """The Service Output table for a (checked) request table: the runner's rows, the chosen columns."""
        return self.table(self.run_rows(table.to_pylist()))

    def run_rows(self, rows: list[dict]) -> list[dict]:
        """The answer rows (the chosen columns) for checked request rows (`decode.checked_rows`: images decoded)."""
        from deepnodes.bundle.predict import StepError, answer, feeds

        try:
            out = answer(self.bundle, self.session.run(self.out_names, feeds(self.bundle, rows)), len(rows))
        except (SystemExit, Exception) as e:  # noqa: BLE001 - the runner words its refusals as SystemExit
            nid = e.step.get("node", self.ex_id) if isinstance(e, StepError) else self.ex_id
            text = str(e).removeprefix("error: ") or type(e).__name__
            raise NodeFailed(f"node '{nid}' ({self.segment.workflow.nodes[nid].label}) failed: {text}") from None
        cols = self.columns
        return [{c: r[c] for c in cols} for r in out]

    def table(self, rows: list[dict]) -> Any:
        """`run_rows`'s answer as the Service Output table (the probability as float32, as the Executor writes it)."""
        import pyarrow as pa

        prob = self.bundle["probability_column"]
        return pa.table({c: pa.array([r[c] for r in rows], pa.float32() if c == prob else None)  # names or indices
                         for c in self.columns})


def compile_segment(segment: Segment) -> BundlePlan:
    """The bundle runner's plan for `segment`, or `NotCompiled` saying why it does not fit."""
    from deepnodes.bundle.export import BundleError, plan_for

    wf = segment.workflow
    execs = [n for n in segment.served if wf.nodes[n].type == EXECUTOR]
    if len(execs) != 1:
        raise NotCompiled(f"the served nodes hold {len(execs)} Network Executors, not one")
    ex_id = execs[0]
    if wf.upstream(segment.output_id).get("table", (None,))[0] != ex_id:
        raise NotCompiled("the Service Output does not read the Network Executor's table")
    c = wf.instantiate(ex_id).config
    if c.backend == "torch" or c.layers or not c.append_class or c.device == "cuda" or \
            (segment.device not in (None, "cpu")):
        raise NotCompiled("the Network Executor's options (backend, layers, append_class, device) are not the "
                          "runner's")
    want = {c.prediction_column, c.probability_column}
    if not segment.output_columns or not set(segment.output_columns) <= want:
        raise NotCompiled("the Service Output returns columns other than the predicted class and its probability")
    try:
        bundle, network = plan_for(wf, ex_id, segment.base, segment.workflow_path)
    except BundleError as e:
        raise NotCompiled(str(e)) from None
    if bundle["source_node"] != segment.input_id:
        raise NotCompiled("the Network Executor's steps do not start at the Service Input")
    chain = _chain(wf, ex_id, segment.input_id)
    if set(segment.served) != chain | {segment.output_id}:
        raise NotCompiled("the served nodes are more than the steps before the Network Executor")
    if len(bundle["outputs"]) != 1 or bundle["outputs"][0]["activation"] != "softmax" or \
            c.outputs not in ([], [bundle["outputs"][0]["name"]]):
        raise NotCompiled("the network is not a classifier with one softmax output")
    import torch

    if c.device == "auto" and segment.device is None and torch.cuda.is_available():
        raise NotCompiled("the Network Executor may run on CUDA here")
    from deepnodes.dl.infer import InferenceError, onnx_session

    try:
        session = onnx_session(network, [0], [], threads=ORT_THREADS)
    except InferenceError as e:
        raise NotCompiled(str(e)) from None
    return BundlePlan(segment, bundle, session, ex_id)


def _chain(wf, ex_id: str, input_id: str) -> set[str]:
    """The Executor and the nodes on its table's path back to the Service Input."""
    nodes, nid = {ex_id}, ex_id
    while nid != input_id:
        nid = wf.upstream(nid)["table"][0]
        nodes.add(nid)
    return nodes
