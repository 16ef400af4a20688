"""`deepnodes run` processes forked from one parent that imported DeepNodes once, for the kill tests.

A kill test starts a dozen or more CLI runs and SIGKILLs them at chosen moments; a fresh interpreter spends
seconds importing torch and the node modules before anything worth killing happens (on a loaded 2-core machine
that was most of a 52 s test). Here one parent process imports the CLI and every node module, then forks one
child per run: the child calls the CLI's own `main(args)` and exits with its status; it is a real process that
`kill -9` ends at any moment. `warm` runs a workflow once in the parent, so that what its nodes import when they
execute is imported once too (with one OpenMP thread, OMP_NUM_THREADS=1, a fork inherits no thread pool).

    with ForkedCLI(cwd) as cli:
        cli.warm(["run", "wf.json"])           # optional: imports what a run imports, in the parent
        run = cli.start(["run", "wf.json"])
        run.poll(); run.kill(); run.wait(60)   # like subprocess.Popen; returncode -9 after a SIGKILL
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

_PARENT = r"""
import json, os, sys, traceback
from deepnodes.cli import main
from deepnodes.core import registry
registry.discover()
out = os.fdopen(os.dup(1), "w")

def run(req):
    fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1); os.dup2(fd, 2); os.close(fd)
    code = 1
    try:
        code = main(req["args"]) or 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    sys.stdout.flush(); sys.stderr.flush()
    return code

for line in sys.stdin:
    req = json.loads(line)
    if req.get("warm"):  # in this process: what the run imports lazily is then imported in every fork
        saved = os.dup(1), os.dup(2)
        code = run(req)
        os.dup2(saved[0], 1); os.dup2(saved[1], 2)
        out.write(f"{code}\n"); out.flush()
        continue
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_RDONLY); os.dup2(null, 0)
        os._exit(run(req))
    out.write(f"{pid}\n"); out.flush()
    _, status = os.waitpid(pid, 0)
    out.write(f"{os.waitstatus_to_exitcode(status)}\n"); out.flush()
"""


class ForkedRun:
    """One forked CLI run (one at a time per `ForkedCLI`)."""

    def __init__(self, cli: "ForkedCLI", pid: int, log: Path):
        self.cli, self.pid, self.log, self.returncode = cli, pid, log, None

    def poll(self, timeout: float = 0) -> int | None:
        if self.returncode is None:
            line = self.cli._line(timeout)
            self.returncode = None if line is None else int(line)
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll(max(0.0, min(1.0, deadline - time.monotonic()))) is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"forked run {self.pid}", timeout)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended between the poll and the kill
                pass

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class ForkedCLI:
    """The parent process; `start` forks a run of `deepnodes ARGS` from it, logging the run's output to `log_dir`."""

    def __init__(self, cwd: Path, log_dir: Path, env: dict | None = None):
        self.log_dir, self.runs, self._buf = Path(log_dir), 0, b""
        self.proc = subprocess.Popen([sys.executable, "-c", _PARENT], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})

    def _line(self, timeout: float | None) -> str | None:
        """The parent's next line, or None when none came within `timeout` (raw reads: no hidden buffer)."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            if not select.select([fd], [], [], timeout)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise EOFError(f"the forking parent ended (exit status {self.proc.wait()})")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def warm(self, args: list[str]) -> int:
        """Run `deepnodes ARGS` in the parent itself (not killed, not forked): the modules a run imports only
        when its nodes execute (the learner's, the writer's) are then already imported in every forked run."""
        self.runs += 1
        self.proc.stdin.write(json.dumps({"args": [str(a) for a in args], "warm": True,
                                          "log": str(self.log_dir / f"warm-{self.runs}.log")}) + "\n")
        self.proc.stdin.flush()
        return int(self._line(None))

    def start(self, args: list[str]) -> ForkedRun:
        self.runs += 1
        log = self.log_dir / f"run-{self.runs}.log"
        self.proc.stdin.write(json.dumps({"args": [str(a) for a in args], "log": str(log)}) + "\n")
        self.proc.stdin.flush()
        return ForkedRun(self, int(self._line(None)), log)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "ForkedCLI":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
