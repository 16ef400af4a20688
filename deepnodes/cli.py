"""The `deepnodes` command line: run workflows headless, list and describe nodes, serve the editor.

Exit codes: 0 success; 1 a node failed (the message names the node and the cause); 2 an invalid
workflow file or a bad `--set`. The CLI is a client of the engine: it never executes a node itself.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepnodes", description="Build, train and deploy deep-learning models as workflows.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    r = sub.add_parser("run", help="run a workflow headless")
    r.add_argument("workflow", help="workflow JSON file")
    r.add_argument("--set", action="append", default=[], metavar="NODE.OPTION=VALUE",
                   help="override a node option for this run (value parsed as JSON, else a string); repeatable")
    r.add_argument("--until", metavar="NODE", help="run only this node and what it needs")
    r.add_argument("--report", metavar="FILE.json", help="write a JSON report: state, time and results per node")
    r.add_argument("--save-results", action="store_true",
                   help="save executed results beside the workflow (WORKFLOW.results/) and reuse them next time")
    r.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="device for deep-learning nodes")
    r.add_argument("--quiet", action="store_true", help="no live display")
    r.add_argument("--debug", action="store_true", help="print tracebacks of failed nodes")

    n = sub.add_parser("nodes", help="list every node type")
    n.add_argument("--json", action="store_true", help="full descriptions (ports, config schema) as JSON")

    d = sub.add_parser("describe", help="describe one node type")
    d.add_argument("node_type")

    s = sub.add_parser("serve", help="start the web editor")
    s.add_argument("workflow", nargs="?")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--workspace", default=".")
    s.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                   help="a folder outside the workspace that node file options may name (repeatable)")
    s.add_argument("--debug", action="store_true", help="print the traceback of a request the server fails on")
    s.add_argument("--token", default=None, help=argparse.SUPPRESS)

    from .service.serve import add_parser as add_serve_workflow  # light: argparse only

    add_serve_workflow(sub)
    from .bundle.export import add_parser as add_export  # light: argparse only

    add_export(sub)
    from .nodes.flow.apply_best import add_parser as add_apply_best  # light: argparse only

    add_apply_best(sub)
    return p


def parse_set(expr: str) -> tuple[str, str, object]:
    """'learner.epochs=3' -> ('learner', 'epochs', 3); the value is JSON, else a string. Errors: WorkflowError."""
    from .core.workflow_file import WorkflowError, check_value, short

    lhs = expr.split("=", 1)[0]
    node_id, _, path = lhs.partition(".")
    if "=" not in expr or not node_id or not path or "" in path.split("."):
        raise WorkflowError(f"--set '{short(expr)}' must look like NODE.OPTION=VALUE")
    raw = expr.split("=", 1)[1]
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    except (ValueError, RecursionError):  # an integer of thousands of digits, or nesting too deep for Python
        raise WorkflowError(f"--set {short(lhs)}: the value '{short(raw, 60)}' is too large or nested too deeply to be an option") from None
    check_value(value, f"--set {short(lhs)}")
    return node_id, path, value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        raise
    except BrokenPipeError:
        # the reader went away (`deepnodes nodes --json | head`): stop quietly, and keep Python's exit flush quiet
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - the last net: one line, the traceback only with --debug
        if getattr(args, "debug", False):
            raise
        from .core.workflow_file import one_line

        _err(one_line(f"{type(e).__name__}: {e}", 500) + " (this is a bug in DeepNodes; --debug shows where)")
        return 1


def _dispatch(args) -> int:
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if args.cmd == "run":
        return cmd_run(args)
    if args.cmd == "nodes":
        return cmd_nodes(args)
    if args.cmd == "describe":
        return cmd_describe(args)
    if args.cmd == "serve":
        from .server.app import serve

        return serve(args)
    if args.cmd == "serve-workflow":
        from .service.serve import serve_workflow

        return serve_workflow(args)
    if args.cmd == "export":
        from .bundle.export import cmd_export

        return cmd_export(args)
    if args.cmd == "apply-best":
        from .nodes.flow.apply_best import cmd_apply_best

        return cmd_apply_best(args)
    _parser().print_help()
    return 0


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def cmd_nodes(args) -> int:
    from .catalogue import catalogue

    nodes = catalogue()
    if args.json:
        print(json.dumps(nodes, indent=2))
        return 0
    rows = [(d["type"], d["name"], d["category"],
             ", ".join(p["name"] for p in d["inputs"]) + " -> " + ", ".join(p["name"] for p in d["outputs"]))
            for d in sorted(nodes, key=lambda d: (d["category"], d["name"]))]
    widths = [max(len(r[i]) for r in rows + [("type", "name", "category", "ports")]) for i in range(3)]
    print(f"{len(rows)} node types")
    for r in [("type", "name", "category", "ports")] + rows:
        print("  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3])
    return 0


def cmd_describe(args) -> int:
    from .catalogue import describe_type

    d = describe_type(args.node_type)
    if d is None:
        from .core import registry

        try:
            registry.get(args.node_type)
        except KeyError as e:
            _err(e.args[0])
            return 2
    print(f"{d['name']}  ({d['type']})\ncategory: {d['category']}\n\n{d['description']}\n")
    for kind in ("inputs", "outputs"):
        print(f"{kind}:")
        for p in d[kind]:
            opt = ", optional" if p.get("optional") else ""
            print(f"  {p['name']} ({p['type']}{opt}) {p['description']}")
    print("options:")
    props = d["config_schema"].get("properties", {})
    for name, prop in props.items():
        shown = json.dumps(prop["default"]) if "default" in prop else "(required)"
        print(f"  {name} = {shown}  {prop.get('description', '')}")
        for line in _choices(prop, d["config_schema"].get("$defs", {})):
            print(f"      {line}")
    return 0


def _choices(prop: dict, defs: dict) -> list[str]:
    """The choices of an enumerated option, as `describe` prints them: a fixed `enum` (also inside `anyOf` or a
    `$ref`), a registry's drop-down (`x-enum`, which also takes other values) or one per value of the option it
    depends on (`x-enum-map`)."""
    parts = [prop, *prop.get("anyOf", [])]
    parts += [defs.get(p["$ref"].rsplit("/", 1)[-1], {}) for p in parts if "$ref" in p]
    fixed = [v for p in parts for v in p.get("enum", []) if v is not None]
    if fixed:
        return ["choices: " + ", ".join(map(str, fixed))]
    if prop.get("x-enum"):
        return ["choices: " + ", ".join(map(str, prop["x-enum"])) + " (or another value)"]
    if prop.get("x-enum-map"):
        by = prop.get("x-enum-depends", "the option it depends on")
        return [f"choices by {by}:"] + [f"  {k}: {', '.join(map(str, v))}" for k, v in prop["x-enum-map"].items()]
    return []


def cmd_run(args) -> int:
    from .core import Engine, Workflow, WorkflowError

    try:
        wf = Workflow.load(args.workflow)
        for expr in args.set:
            node_id, path, value = parse_set(expr)
            wf.set_option(node_id, path, value)
    except (WorkflowError, ValueError) as e:
        _err(str(e))
        return 2
    report = Path(args.report) if args.report else None
    if report is not None and (report.is_dir() or not report.parent.is_dir()):
        _err(f"--report: '{report}' is a folder" if report.is_dir() else
             f"--report: the folder '{report.parent}' does not exist")
        return 2
    device = None if args.device in (None, "auto") else args.device
    engine = Engine(wf, device=device)
    results_dir = Path(args.workflow).with_suffix(".results")
    if args.save_results:
        engine.load_results(results_dir)
        if engine.results_warning:
            _warn(engine.results_warning)
    if args.until and args.until not in wf.nodes:
        _err(f"--until: there is no node '{args.until}' in the workflow")
        return 2

    from .progress import LiveDisplay

    t0 = time.perf_counter()
    display = LiveDisplay(engine, quiet=args.quiet)
    try:
        with _CtrlC(engine) as ctrl_c:  # through the save too: a save is never cut short by the first Ctrl-C
            with display:
                result = engine.run(until=args.until)
            elapsed = time.perf_counter() - t0
            if args.save_results:
                engine.save_results(results_dir)
                for w in engine.save_warnings:
                    _warn(w)
    except KeyboardInterrupt:  # before the handler was installed
        engine.cancel()
        _err("cancelled")
        return 130
    if args.report:
        rep = engine.report()
        rep["ok"] = result.ok
        rep["seconds"] = elapsed
        try:
            from .dl.attention_png import write_report_images

            write_report_images(engine, report, rep)  # attention heat maps beside the report, linked in it
            report.write_text(json.dumps(rep, indent=2, default=str))
        except OSError as e:
            _err(f"--report: '{report}' could not be written: {e.strerror or e}")
    for nid in result.failed:
        st = engine.status[nid]
        label = wf.nodes[nid].label
        _err(f"node '{nid}' ({label}) failed: {st.message}")
        if args.debug and st.traceback:
            print(st.traceback, file=sys.stderr)
    idle = [n for n, st in engine.status.items() if st.state == "idle" and (args.until is None or n in wf.ancestors(args.until) | {args.until})]
    for nid in idle:
        _err(f"node '{nid}' ({wf.nodes[nid].label}) is not configured: {engine.status[nid].message}")
    display.summary(result, elapsed)
    if ctrl_c.pressed:
        _say_kept(engine, results_dir if args.save_results else None)
        return 130
    if result.failed or idle:
        return 1
    if result.cancelled:
        return 130
    return 0


class _CtrlC:
    """The first Ctrl-C cancels the run (nodes stop at their next batch and keep what is complete);
    a second one exits at once."""

    def __init__(self, engine):
        self.engine = engine
        self.pressed = 0
        self.prev = None

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self.prev = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc):
        import signal

        if self.prev is not None:
            signal.signal(signal.SIGINT, self.prev)
        return False

    def _on_sigint(self, signum, frame) -> None:
        import os

        self.pressed += 1
        if self.pressed > 1:
            os.write(2, b"\ninterrupted again: exiting now, nothing more is kept\n")
            os._exit(130)
        # os.write: a signal handler must not re-enter a buffered stream the main thread may be writing
        os.write(2, b"\ncancelling: running nodes stop after their current batch and keep what is complete "
                    b"(Ctrl-C again to exit at once)\n")
        self.engine.cancel()


def _say_kept(engine, results_dir) -> None:
    done = [n for n, st in engine.status.items() if st.state == "executed"]
    partial = [n for n, st in engine.status.items() if st.partial and st.outputs is not None]
    parts = []
    if done:
        parts.append(f"the results of {len(done)} finished node{'s' if len(done) != 1 else ''} ({', '.join(done)})")
    if partial:
        parts.append("the outputs so far of " + ", ".join(partial) + " (the last complete model, not final)")
    kept = " and ".join(parts) if parts else "nothing (no node had finished)"
    where = f"; saved in {results_dir}" if results_dir is not None and parts else ""
    print(f"cancelled: kept {kept}{where}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
