"""What the engine knows about each node (`NodeStatus`), what a run returns (`RunResult`), and the one sentence
a user sees for an exception raised in a node (`error_message`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .workflow_file import one_line

STATES = ("idle", "configured", "queued", "executing", "executed", "failed")


@dataclass
class NodeStatus:
    state: str = "idle"
    message: str = ""
    key: str | None = None
    specs: list[Any] = field(default_factory=list)
    outputs: list[Any] | None = None
    scalars: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    progress: float | None = None
    partial: bool = False  # outputs kept from a cancelled or stopped run; re-run executes again
    traceback: str = ""
    user_error: bool = False  # the failure is a NodeError or a bad option: one sentence says it all (no traceback shown)
    doubt: str = ""  # a configure error on an input spec known only once the upstream node ran (checked again then)
    saved: tuple | None = None  # (outputs, {port: file}) when `outputs` were reopened from those saved files

    def to_json(self) -> dict:
        return {"state": self.state, "message": self.message, "seconds": self.seconds,
                "scalars": self.scalars, "progress": self.progress,
                "specs": [s.to_json() if hasattr(s, "to_json") else None for s in self.specs]}


@dataclass
class RunResult:
    ok: bool
    failed: list[str]
    cancelled: bool
    executed: list[str]
    not_executable: list[str]


def error_message(exc: BaseException) -> str:
    """The one sentence shown to a user for an exception raised inside a node."""
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        return f"option '{'.'.join(str(x) for x in e['loc'])}': {e['msg']}"
    msg = str(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else str(exc)
    if isinstance(exc, (MemoryError,)):
        return "ran out of memory; try a smaller batch size or fewer rows"
    return one_line(msg or type(exc).__name__)  # an echoed value may hold a newline: the message stays one line


__all__ = ["STATES", "NodeStatus", "RunResult", "error_message"]
