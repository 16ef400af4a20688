"""The command line's live display: a line per running node, a bar for long work, the latest metrics.

It only listens to the engine's event stream, as the web editor does. The engine calls it on its one event
thread, never re-entrantly; what it prints goes to the real stderr. Library warnings (events marked
`library`) stay in the node's log and are not printed.
"""
from __future__ import annotations

import re
import sys
import threading

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

STEP = re.compile(r"^\w+ \d+ of \d+$")  # a loop's progress: 'fold 2 of 5', 'trial 3 of 16', 'file 1 of 40'


class LiveDisplay:
    def __init__(self, engine, quiet: bool = False):
        self.engine = engine
        self.quiet = quiet
        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("{task.fields[node]:<18}"), BarColumn(), TaskProgressColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.description}"), console=self.console)
        self.tasks: dict[str, int] = {}
        self.metrics: dict[str, dict] = {}
        self.lock = threading.Lock()
        self._unsub = None
        self._live: Live | None = None
        self._last_log = 0.0

    def __enter__(self):
        self._unsub = self.engine.subscribe(self.on_event)
        if not self.quiet and self.console.is_terminal:
            self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._unsub:
            self._unsub()
        if self._live:
            self._live.update(self._render())
            self._live.__exit__(*exc)

    def _render(self):
        parts = [self.progress]
        if self.metrics:
            t = Table.grid(padding=(0, 2))
            for nid, vals in self.metrics.items():
                t.add_row(f"[bold]{nid}[/]", "  ".join(f"{k} {_fmt(v)}" for k, v in vals.items()))
            parts.append(t)
        return Group(*parts)

    def on_event(self, ev: dict) -> None:
        nid = ev.get("node")
        with self.lock:
            kind = ev["type"]
            if kind == "state":
                st = ev["state"]
                if st == "executing":
                    if nid in self.tasks:  # a loop's body node, again in the next iteration
                        self.progress.reset(self.tasks[nid], total=1.0, start=True, description="")
                    else:
                        self.tasks[nid] = self.progress.add_task("", total=1.0, node=nid)
                    self._plain(f"{nid}: executing")
                elif st == "configured" and not ev.get("message"):
                    pass  # configured again (a loop body's next iteration): nothing happened to show
                elif nid in self.tasks and st in ("executed", "failed", "configured"):
                    tid = self.tasks[nid]
                    done = st == "executed"
                    self.progress.update(tid, completed=1.0 if done else self.progress.tasks[tid].completed,
                                         description={"executed": "[green]done[/]", "failed": "[red]failed[/]"}.get(st, st))
                    self.progress.stop_task(tid)
                    self._plain(f"{nid}: {st}" + (f" ({ev.get('message')})" if ev.get("message") else ""))
            elif kind == "progress" and nid in self.tasks:
                frac = ev.get("fraction")
                self.progress.update(self.tasks[nid], completed=frac if frac is not None else None,
                                     description=ev.get("message", ""))
                if STEP.match(ev.get("message", "")):  # a loop's "iteration 3 of 10": a line without a terminal
                    self._plain(f"{nid}: {ev['message']}")
            elif kind == "metrics":
                if ev.get("kind") == "epoch":
                    vals = ev["values"]
                    self.metrics[nid] = {"epoch": ev.get("epoch"), **vals}
                    self._plain(f"{nid}: epoch {ev.get('epoch')} " + " ".join(f"{k}={_fmt(v)}" for k, v in vals.items()))
            elif kind == "log" and ev.get("level") == "warning" and not ev.get("library"):
                self.console.print(f"[yellow]{nid}: {ev['line']}[/]")
            if self._live:
                self._live.update(self._render())

    def _plain(self, line: str) -> None:
        """Without a terminal (CI, pipes), print state changes as plain lines."""
        if not self._live and not self.quiet:
            print(line, file=sys.stderr, flush=True)

    def summary(self, result, elapsed: float) -> None:
        if self.quiet:
            return
        eng = self.engine
        t = Table(title=f"{'ok' if result.ok else 'not ok'} in {elapsed:.1f} s")
        for c in ("node", "state", "time", "results"):
            t.add_column(c)
        for nid, st in eng.status.items():
            res = "  ".join(f"{k}={_fmt(v)}" for k, v in st.scalars.items())
            t.add_row(nid, st.state, "" if st.seconds is None else f"{st.seconds:.2f} s", res or st.message)
        self.console.print(t)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


