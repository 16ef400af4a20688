"""The engine: the only thing that runs nodes.

- `configure()` walks the graph in topological order and computes every node's output specs and cache
  key from its config and its inputs' keys, without touching data.
- `run()` executes what is needed (everything, or up to a node), independent branches concurrently,
  reusing results whose key has not changed.
- One event stream (`subscribe`) carries node states, progress, log lines and metrics; it is delivered by one
  dispatcher thread (`events.py`), so a subscriber never runs inside a node's thread or output capture.
- Cancellation is cooperative (`ctx.check_cancelled()`); a failing node leaves every other result intact
  and its dependants are reported as not executable.
- Saved results are written and read by `results.py` (a transaction per save; a checked index on read).
"""
from __future__ import annotations

import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable

from pydantic import ValidationError

from .cache_key import cache_key
from .events import EventBus, node_warnings
from .node import Cancelled, ExecutionContext, Node, NodeError
from .ports import PORT_TYPES, port_type_of_spec
from .resources import RunResources
from .results import RESULTS_FORMAT, Index, ResultsError, SavedResults
from .status import STATES, NodeStatus, RunResult, error_message
from .workflow import Workflow, WorkflowError, pydantic_message

class Engine(SavedResults):
    def __init__(self, workflow: Workflow, max_workers: int | None = None, device: str | None = None):
        self.workflow = workflow
        self.status: dict[str, NodeStatus] = {}
        self._events = EventBus()
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._stops: dict[str, threading.Event] = {}
        self._saved: dict[str, dict] = {}  # results on disk not yet loaded: node -> entry
        self._index: Index | None = None  # the results folder they were read from
        self.results_warning = ""  # why a results folder was not reopened (set by load_results)
        self.save_warnings: list[str] = []  # nodes whose results the last save_results could not save, and why
        self.max_workers = max_workers or 2
        self.device = device
        self.running = False
        self.resources = RunResources()
        self.folder = workflow.path.resolve().parent if workflow.path is not None else None  # ExecutionContext.folder

    # ------------------------------------------------------------------ events
    def subscribe(self, fn: Callable[[dict], None]) -> Callable[[], None]:
        """Call `fn(event)` for every event, on the engine's dispatcher thread, in emission order."""
        return self._events.subscribe(fn)

    def emit(self, event: dict) -> None:
        """Queue an event for the subscribers; never blocks and never calls a subscriber itself."""
        self._events.emit(event)

    def flush(self) -> None:
        """Wait until the subscribers have seen every event emitted so far (public calls do this on return)."""
        self._events.flush()

    def _set_state(self, node_id: str, state: str, message: str | None = None) -> None:
        st = self.status[node_id]
        changed = st.state != state or (message is not None and message != st.message)
        st.state = state
        if message is not None:
            st.message = message
        if changed:
            self.emit({"type": "state", "node": node_id, "state": state, "message": st.message})

    # ------------------------------------------------------------------ configure
    def configure(self) -> dict[str, NodeStatus]:
        """Compute every node's output specs and cache key; returns the statuses."""
        wf = self.workflow
        with self._lock:
            for gone in set(self.status) - set(wf.nodes):
                del self.status[gone]
            order = wf.topological_order()
            for nid in order:
                st = self.status.setdefault(nid, NodeStatus())
                if st.state in ("queued", "executing"):
                    continue
                self._configure_one(nid, st)
        self.flush()
        return self.status

    def _configure_one(self, nid: str, st: NodeStatus) -> None:
        wf = self.workflow
        entry = wf.nodes[nid]
        try:
            node = wf.instantiate(nid)
        except ValidationError as e:
            return self._unconfigured(nid, st, pydantic_message(e, nid))
        ups = wf.upstream(nid)
        specs: list[Any] = []
        keys: list[str] = []
        for port in node.inputs:
            if port.name not in ups:
                if not port.optional:
                    return self._unconfigured(nid, st, f"input '{port.name}' is not connected")
                specs.append(None)
                keys.append("-")
                continue
            src, sport = ups[port.name]
            sst = self.status.get(src)
            if sst is None or sst.key is None:
                return self._unconfigured(nid, st, f"waiting for '{src}' to be configured")
            idx = _port_index(wf, src, sport)
            specs.append(sst.specs[idx] if idx < len(sst.specs) else None)
            keys.append(f"{sst.key}:{sport}")
        doubt = ""
        try:
            with node_warnings(self._library_warning(nid)):
                out = node.configure(specs)
                extra = node.signature_extra()
        except Exception as e:  # noqa: BLE001 - every configure error is shown on the node
            unknown = [ups[p.name][0] for p, s in zip(node.inputs, specs) if s is None and p.name in ups]
            if not unknown:
                return self._unconfigured(nid, st, error_message(e), e)
            # an input's spec is known only once its node has run (a Python Script's table): the node is configured
            # with unknown outputs, shows the error, and is configured again on the real specs just before it runs
            out, extra = [None] * len(node.outputs), ""
            doubt = (f"checked when '{unknown[0]}' has run (what it gives is not known before)"
                     if isinstance(e, (AttributeError, TypeError, KeyError, IndexError)) else error_message(e))
        if len(out) != len(node.outputs):
            return self._unconfigured(nid, st, f"configure returned {len(out)} specs for {len(node.outputs)} outputs")
        key = cache_key(entry.type, node, extra, keys, self.device)
        st.specs = list(out)
        if st.key != key:
            st.key = key
            st.outputs = None
            st.scalars = {}
            st.seconds = None
            st.partial = False
        if st.outputs is None and nid in self._saved and self._saved[nid].get("key") == key:
            self._restore(nid, st)
        if st.outputs is not None and not st.partial:
            self._set_state(nid, "executed", st.message if st.state == "executed" else "")
        elif st.state != "queued":
            keep = st.state == "configured" and st.message != st.doubt
            self._set_state(nid, "configured", doubt or (st.message if keep else ""))
        st.doubt = doubt

    def _unconfigured(self, nid: str, st: NodeStatus, message: str, exc: BaseException | None = None) -> None:
        st.key = None
        st.specs = []
        st.outputs = None
        st.partial = False
        st.traceback = "".join(traceback.format_exception(exc)) if exc else ""
        self._set_state(nid, "idle", message)

    # ------------------------------------------------------------------ run
    def run(self, until: str | None = None, nodes: list[str] | None = None) -> RunResult:
        """Execute the workflow (or everything up to `until`, or the given nodes and what they need)."""
        wf = self.workflow
        with self._lock:
            if self.running:
                raise RuntimeError("the workflow is already running")
            self.running = True
            self._cancel.clear()
            self.resources = RunResources()  # services the run's nodes share (an H2O cluster), released at its end
        try:
            self.configure()
            if until is not None:
                wf._node(until, "--until")
                wanted = wf.ancestors(until) | {until}
            elif nodes:
                wanted = set()
                for n in nodes:
                    wf._node(n)
                    wanted |= wf.ancestors(n) | {n}
            else:
                wanted = set(wf.nodes)
            return self._run(wanted)
        finally:
            self.resources.close()
            self.running = False
            self.flush()

    def _run(self, wanted: set[str]) -> RunResult:
        wf = self.workflow
        order = [n for n in wf.topological_order() if n in wanted]
        todo = [n for n in order if self.status[n].state != "executed"]
        failed: list[str] = []
        executed: list[str] = []
        blocked: dict[str, str] = {}
        self.emit({"type": "run", "state": "started", "nodes": todo})
        for n in todo:
            if self.status[n].state == "configured":
                self._set_state(n, "queued", "")
        pending = set(todo)
        sources: dict[str, set[str]] = {n: set() for n in todo}
        children: dict[str, list[str]] = {n: [] for n in wf.nodes}
        for c in wf.connections:
            if c.target in sources:
                sources[c.target].add(c.source)
                children[c.source].append(c.target)
        running: dict[Future, str] = {}
        cancelled = False
        rank = {n: i for i, n in enumerate(todo)}
        look = list(todo)  # nodes whose inputs changed since they were last looked at
        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="deepnodes") as pool:
            while look or running:
                if self._cancel.is_set():
                    look = sorted(pending, key=rank.get)
                nxt: list[str] = []
                for n in sorted(set(look), key=rank.get):
                    if n not in pending:
                        continue
                    st = self.status[n]
                    bad = [u for u in sources[n] if u in failed or u in blocked]
                    if st.state == "idle" or bad or self._cancel.is_set():
                        pending.discard(n)
                        nxt.extend(children[n])
                        if self._cancel.is_set():
                            cancelled = True
                            self._set_state(n, "configured" if st.key else "idle", "cancelled")
                        elif bad:
                            why = f"not executed: '{bad[0]}' " + ("failed" if bad[0] in failed else "could not run")
                            blocked[n] = why
                            self._set_state(n, "configured" if st.key else "idle", why)
                        else:
                            blocked[n] = st.message
                        continue
                    if all(self.status[u].state == "executed" for u in sources[n]):
                        pending.discard(n)
                        # upstream results may have just changed keys: configure again before running
                        self._configure_one(n, st)
                        if st.state == "executed":
                            nxt.extend(children[n])
                            continue
                        if st.state == "idle":
                            blocked[n] = st.message
                            nxt.extend(children[n])
                            continue
                        self._set_state(n, "executing", "")
                        running[pool.submit(self._execute, n)] = n
                look = nxt
                if look:
                    continue
                if not running:
                    for n in sorted(pending, key=rank.get):  # nothing can start: an input outside the run is missing
                        blocked[n] = "not executed: an input is not available"
                        self._set_state(n, "configured" if self.status[n].key else "idle", blocked[n])
                    pending.clear()
                    break
                try:
                    done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                except BaseException:  # Ctrl-C in a Python session: running nodes stop at their next check
                    self._cancel.set()
                    raise
                for fut in done:
                    n = running.pop(fut)
                    outcome = fut.result()
                    look.extend(children[n])
                    if outcome == "executed":
                        executed.append(n)
                    elif outcome == "cancelled":
                        cancelled = True
                    else:
                        failed.append(n)
        ok = not failed and not cancelled and not blocked
        self.emit({"type": "run", "state": "finished", "ok": ok, "failed": failed, "cancelled": cancelled})
        return RunResult(ok, failed, cancelled, executed, sorted(blocked))

    def _inputs_of(self, nid: str, node: Node) -> list[Any]:
        ups = self.workflow.upstream(nid)
        out = []
        for port in node.inputs:
            if port.name not in ups:
                out.append(None)
                continue
            src, sport = ups[port.name]
            out.append(self.output(src, sport))
        return out

    def _execute(self, nid: str) -> str:
        st = self.status[nid]
        node = self.workflow.instantiate(nid)
        stop = self._stops.setdefault(nid, threading.Event())
        stop.clear()
        ctx = ExecutionContext(nid, self._node_emit(nid), self._cancel, stop, self.device)
        ctx.resources = self.resources
        ctx.folder = self.folder
        # input port -> the key of what arrives there (a loop derives its iterations' keys from it)
        ctx.input_keys = {p: f"{self.status[s].key}:{sp}" for p, (s, sp) in self.workflow.upstream(nid).items()}
        t0 = time.perf_counter()
        try:
            inputs = self._inputs_of(nid, node)
            with node_warnings(self._library_warning(nid)):  # to the node's log, not the screen
                outputs = node.execute(inputs, ctx)
            if outputs is None or len(outputs) != len(node.outputs):
                raise RuntimeError(f"the node returned {0 if outputs is None else len(outputs)} outputs, "
                                   f"expected {len(node.outputs)}")
        except Cancelled as c:
            st.seconds = time.perf_counter() - t0
            kept = getattr(c, "outputs", None)
            if kept is not None:
                st.outputs, st.partial, st.scalars = list(kept), True, dict(ctx.scalars)
                self._set_state(nid, "configured", "cancelled; the outputs so far are kept but not final")
            else:
                self._set_state(nid, "configured", "cancelled")
            return "cancelled"
        except Exception as e:  # noqa: BLE001 - every node error is shown on the node
            st.seconds = time.perf_counter() - t0
            kept = getattr(e, "outputs", None)  # a failing node may keep what it had (a learner's last good model)
            st.outputs, st.partial = (list(kept), True) if kept is not None else (None, False)
            # the log gets the one sentence; the traceback is kept once, in the status (--debug, the editor's details)
            st.traceback = traceback.format_exc()
            st.user_error = isinstance(e, (NodeError, ValidationError))
            self.emit({"type": "log", "node": nid, "level": "error", "line": f"failed: {error_message(e)}"})
            self._set_state(nid, "failed", error_message(e))
            return "failed"
        st.seconds = time.perf_counter() - t0
        st.outputs = list(outputs)
        st.scalars = dict(ctx.scalars)
        st.partial = False
        st.progress = 1.0
        specs = []
        for p, o in zip(node.outputs, outputs):
            try:
                specs.append(PORT_TYPES[p.type].io.spec_of(o) if o is not None else None)
            except Exception:  # noqa: BLE001
                specs.append(None)
        # the real specs replace the configured ones where a node could not know them in advance
        st.specs = [r if r is not None else c for r, c in zip(specs, st.specs or [None] * len(specs))]
        self._set_state(nid, "executed", "stopped early; the model so far is kept" if stop.is_set() else "")
        self.emit({"type": "executed", "node": nid, "seconds": st.seconds, "scalars": st.scalars})
        return "executed"

    def _library_warning(self, nid: str) -> Callable[[str], None]:
        seen: set[str] = set()

        def log(line: str) -> None:  # once per node run and message; `library` lets a display keep it quiet
            if line not in seen:
                seen.add(line)
                self.emit({"type": "log", "node": nid, "level": "warning", "line": line, "library": True})
        return log

    def _node_emit(self, nid: str) -> Callable[[dict], None]:
        def emit(ev: dict) -> None:
            if ev.get("type") == "progress":
                self.status[nid].progress = ev.get("fraction")
            self.emit(ev)
        return emit

    # ------------------------------------------------------------------ control
    def cancel(self) -> None:
        """Ask every running node to stop; they raise `Cancelled` at their next check."""
        self._cancel.set()

    def request_stop(self, node_id: str) -> None:
        """Ask one running node (a learner) to finish early and keep what it has."""
        self._stops.setdefault(node_id, threading.Event()).set()

    def reset(self, node_id: str | None = None) -> None:
        """Drop the results of `node_id` and everything downstream of it (all results when None)."""
        ids = set(self.workflow.nodes) if node_id is None else {node_id} | self.workflow.downstream(node_id)
        for n in ids:
            st = self.status.get(n)
            self._saved.pop(n, None)
            if st is None or st.state in ("queued", "executing"):
                continue
            st.outputs, st.scalars, st.seconds, st.partial, st.progress = None, {}, None, False, None
            if st.state in ("executed", "failed"):
                self._set_state(n, "configured" if st.key else "idle", "")
        self.configure()

    def output(self, node_id: str, port: str | int = 0) -> Any:
        """The object on one output port of an executed node."""
        st = self.status.get(node_id)
        if st is None or st.outputs is None:
            raise WorkflowError(f"node '{node_id}' has not been executed")
        idx = _port_index(self.workflow, node_id, port)
        return st.outputs[idx]

    # ------------------------------------------------------------------ reports (saved results: results.py)
    def report(self) -> dict:
        wf = self.workflow
        nodes = {}
        for nid in wf.nodes:
            st = self.status.get(nid, NodeStatus())
            entry: dict[str, Any] = {"type": wf.nodes[nid].type, "label": wf.nodes[nid].label, "state": st.state,
                                     "message": st.message, "seconds": st.seconds, "results": st.scalars}
            if st.outputs is not None:
                node = wf.instantiate(nid)
                outs = {}
                for p, o in zip(node.outputs, st.outputs):
                    try:
                        outs[p.name] = PORT_TYPES[p.type].io.summary(o) if o is not None else None
                    except Exception:  # noqa: BLE001
                        outs[p.name] = None
                entry["outputs"] = outs
            nodes[nid] = entry
        return {"workflow": wf.name, "nodes": nodes}


def _port_index(wf: Workflow, node_id: str, port: str | int) -> int:
    from .workflow import node_ports

    outs = node_ports(wf.nodes[node_id], wf.folder)[1]
    if isinstance(port, int):
        return port
    for i, p in enumerate(outs):
        if p.name == port:
            return i
    raise WorkflowError(f"node '{node_id}' has no output port '{port}'")


def run_workflow(wf: Workflow, **kw) -> tuple[Engine, RunResult]:
    eng = Engine(wf)
    return eng, eng.run(**kw)


__all__ = ["Engine", "NodeStatus", "RESULTS_FORMAT", "ResultsError", "RunResult", "STATES", "error_message",
           "port_type_of_spec"]
