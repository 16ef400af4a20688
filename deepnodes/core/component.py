"""Nodes that hold a workflow: a body `Workflow` run by an inner `Engine`.

A body is a workflow whose Component Input nodes are fed by the holding node (the outer node's inputs, or a
loop's per-iteration tables) and whose Component Output nodes give the holding node's outputs. It is stored
inline in the holding node's config (`body`) or in a shared workflow file (`body_file`; its content hash is in
the holding node's cache key). Exposed options (`expose: {"epochs": "learner.epochs"}`) are set on the body
before it is configured or run.

- `load_body` reads and checks a body (a cycle, a dangling port, a port named twice, an exposed option naming
  nothing are one sentence naming the holding node).
- `BodyEngine` is an ordinary `Engine` whose Component Input nodes are given (spec, key, object): every inner
  node's cache key follows from its feeds' keys exactly as at the top level, and results are kept in a small
  process-wide memo by key, so an iteration with the same inputs and options is a cache hit.
- `run_body` runs a body for one execution of the holding node: inner events reach the outer stream with the
  path `holder/inner`, a cancel reaches inside (or, for loops, waits for the iteration to end).
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from .cache_key import hash_of
from .engine import Engine
from .node import Cancelled, ExecutionContext, NodeError
from .ports import In, Out
from .status import NodeStatus
from .workflow import Workflow, WorkflowError
from .workflow_file import current_folder, parse, read_text, resolve_relative, short

INPUT_TYPE = "deepnodes.flow.ComponentInput"
OUTPUT_TYPE = "deepnodes.flow.ComponentOutput"
MEMO_SIZE = 256  # inner results kept by key, process-wide (bounded: a long loop must not grow memory without end)


class Body:
    """A checked body: the workflow (exposed options applied), its ports and its content hash."""

    def __init__(self, wf: Workflow, digest: str):
        self.workflow = wf
        self.digest = digest
        self.inputs = [(nid, port_name(wf, nid), wf.nodes[nid].config.get("type", "table"))
                       for nid in wf.nodes if wf.nodes[nid].type == INPUT_TYPE]
        self.outputs = [(nid, port_name(wf, nid), wf.nodes[nid].config.get("type", "table"))
                        for nid in wf.nodes if wf.nodes[nid].type == OUTPUT_TYPE]

    def ports(self) -> tuple[list, list]:
        return ([In(name, t, f"to the body's '{nid}'") for nid, name, t in self.inputs],
                [Out(name, t, f"from the body's '{nid}'") for nid, name, t in self.outputs])


def port_name(wf: Workflow, nid: str) -> str:
    return wf.nodes[nid].config.get("name") or nid


def load_body(config: dict, owner: str = "component") -> Body:
    """The body a holding node's config names (`body` inline or `body_file`), checked, exposed options set."""
    inline, file = config.get("body"), config.get("body_file") or ""
    try:
        if file:  # a relative name is in the workflow file's folder (`relative_to`), not the current folder
            path = resolve_relative(file)
            text = read_text(path)
            data, digest, folder = parse(text), hashlib.sha256(text.encode()).hexdigest()[:24], path.parent
        elif inline:
            data, digest, folder = inline, hash_of(layout_free(inline)), current_folder()
        else:
            raise NodeError(f"there is no body: set 'body' (an inline workflow) or 'body_file' (a workflow file)")
        if isinstance(data, dict):
            data = {"format": "deepnodes.workflow/1", "name": owner, "connections": [], **data}
        wf = Workflow.from_json(data, folder)
    except WorkflowError as e:
        raise NodeError(f"the body {'file ' + repr(short(file)) + ' ' if file else ''}is not valid: "
                        f"{e}") from None
    _check_ports(wf)
    _apply_exposed(wf, config)
    return Body(wf, digest)


def layout_free(body: Any) -> Any:
    """An inline body without its nodes' positions: moving a node inside a body changes nothing it computes."""
    if not isinstance(body, dict) or not isinstance(body.get("nodes"), list):
        return body
    return {**body, "nodes": [{k: v for k, v in n.items() if k != "position"} if isinstance(n, dict) else n
                              for n in body["nodes"]]}


def _check_ports(wf: Workflow) -> None:
    seen: dict[tuple[str, str], str] = {}
    for nid, e in wf.nodes.items():
        if e.type not in (INPUT_TYPE, OUTPUT_TYPE):
            continue
        kind = "input" if e.type == INPUT_TYPE else "output"
        name = port_name(wf, nid)
        if (kind, name) in seen:
            raise NodeError(f"the body has two Component {kind.title()} nodes named '{name}' "
                            f"('{seen[kind, name]}' and '{nid}')")
        seen[kind, name] = nid
        used = any(c.source == nid for c in wf.connections) if kind == "input" else \
            any(c.target == nid for c in wf.connections)
        if not used:
            raise NodeError(f"the body's Component {kind.title()} '{nid}' is not connected "
                            f"(a dangling port)")


def _apply_exposed(wf: Workflow, config: dict) -> None:
    for name, target in (config.get("expose") or {}).items():
        node_id, _, option = target.partition(".")
        if node_id not in wf.nodes or not option:
            raise NodeError(f"exposed option '{name}' names '{short(target)}', but the body has no node "
                            f"'{short(node_id)}' (write it as node.option)")
        if name in config:
            try:
                wf.set_option(node_id, option, config[name])
            except WorkflowError as e:
                raise NodeError(f"exposed option '{name}' ({target}): {e}") from None
        else:  # the path must exist even while the option keeps the body's value
            try:
                current = wf.instantiate(node_id).config.model_dump(mode="json")
                for k in option.split("."):
                    current = current[int(k) if isinstance(current, list) else k]
            except (KeyError, IndexError, ValueError, TypeError):
                raise NodeError(f"exposed option '{name}' names '{short(target)}', but node "
                                f"'{node_id}' has no option '{short(option)}'") from None


# ---------------------------------------------------------------------------------------------- running
_MEMO: "OrderedDict[str, tuple[list, dict, list]]" = OrderedDict()
_MEMO_LOCK = threading.Lock()


def memo_clear() -> None:
    with _MEMO_LOCK:
        _MEMO.clear()


class BodyEngine(Engine):
    """An engine over a body whose Component Input nodes are given: feeds[port name] = (spec, key, object)."""

    def __init__(self, body: Body, feeds: dict[str, tuple[Any, str, Any]], device: str | None = None):
        super().__init__(body.workflow, max_workers=1, device=device)
        self._feeds = {nid: feeds[name] for nid, name, _ in body.inputs}
        self.hits: list[str] = []  # inner nodes whose results came from the memo in this engine's life

    def _configure_one(self, nid: str, st: NodeStatus) -> None:
        if nid in self._feeds:
            spec, key, obj = self._feeds[nid]
            st.specs, st.key, st.outputs, st.partial = [spec], key, (None if obj is None else [obj]), False
            self._set_state(nid, "executed" if obj is not None else "configured", "")
            return
        super()._configure_one(nid, st)
        if st.key is not None and st.outputs is None and st.state == "configured":
            with _MEMO_LOCK:
                hit = _MEMO.get(st.key)
                if hit is not None:
                    _MEMO.move_to_end(st.key)
            if hit is not None:
                st.outputs, st.scalars, st.specs = list(hit[0]), dict(hit[1]), list(hit[2])
                self.hits.append(nid)
                self._set_state(nid, "executed", "")

    def _execute(self, nid: str) -> str:
        outcome = super()._execute(nid)
        st = self.status[nid]
        if outcome == "executed" and self.workflow.instantiate(nid).cacheable:
            with _MEMO_LOCK:
                _MEMO[st.key] = (list(st.outputs), dict(st.scalars), list(st.specs))
                while len(_MEMO) > MEMO_SIZE:
                    _MEMO.popitem(last=False)
        return outcome


def configure_body(body: Body, specs: dict[str, Any], owner: str) -> tuple[dict[str, Any], str]:
    """Output specs by port name from input specs, and a signature of every inner node's key (configs, files read)."""
    eng = BodyEngine(body, {name: (specs.get(name), f"in:{name}", None) for _, name, _ in body.inputs})
    status = eng.configure()
    for nid in body.workflow.topological_order():
        st = status[nid]
        if st.state == "idle" and not st.message.startswith("waiting for"):
            raise NodeError(f"inside the body, node '{nid}': {st.message}")
    outs = {name: (status[nid].specs[0] if status[nid].specs else None) for nid, name, _ in body.outputs}
    return outs, hash_of({"body": body.digest, "keys": {n: s.key for n, s in status.items()}})


def run_body(body: Body, feeds: dict[str, tuple[Any, str, Any]], ctx: ExecutionContext, owner: str,
             cancel_inside: bool = True, watch=None) -> tuple[dict[str, Any], dict[str, Any], BodyEngine]:
    """Run the body once: (outputs by port name, scalars by 'node.name', the engine). Inner events go to the
    outer stream as `owner/node`; a cancel reaches inside when `cancel_inside` (a loop lets its iteration end).
    `watch(event, engine)` sees every inner event first (a search's pruner reads the learner's epochs)."""
    eng = BodyEngine(body, feeds, ctx.device)
    eng.folder = ctx.folder  # the body's default output folders are the outer workflow's

    def forward(ev: dict) -> None:
        if watch is not None:
            watch(ev, eng)
        if ev.get("type") == "run":
            return
        if "node" in ev:
            ev = {**ev, "node": f"{ctx.node_id}/{ev['node']}"}
        ctx._emit(ev)

    unsubscribe = eng.subscribe(forward)
    done = threading.Event()

    def watch_cancel() -> None:
        while not done.wait(0.05):
            if ctx.cancelled:
                eng.cancel()
                return
    watcher = threading.Thread(target=watch_cancel, daemon=True, name="deepnodes-body-cancel")
    if cancel_inside:
        watcher.start()
    try:
        res = eng.run()
    finally:
        done.set()
        unsubscribe()
    if res.cancelled:
        raise Cancelled()
    if not res.ok:
        bad = (res.failed or res.blocked)[0]
        raise NodeError(f"inside the body, node '{bad}' "
                        f"{'failed' if res.failed else 'did not run'}: {eng.status[bad].message}")
    outputs = {name: eng.status[nid].outputs[0] for nid, name, _ in body.outputs}
    scalars = {f"{nid}.{k}": v for nid, st in eng.status.items() for k, v in st.scalars.items()}
    return outputs, scalars, eng


def feed_key(*parts: Any) -> str:
    return hash_of(json.loads(json.dumps(parts, default=str)))
