"""Reading a workflow file safely: a bounded read, strict UTF-8, bounded nesting, no NaN, and the whole file
validated against a pydantic model of the format before anything is built from it.

Every way a file can be wrong ends in one `WorkflowError` sentence naming the file, the node entry or the
connection, and the key; a value echoed in a message is cut to 200 characters (`short`).
"""
from __future__ import annotations

import json
import math
import re
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

FORMAT = "deepnodes.workflow/1"
SUPPORTED_FORMATS = {FORMAT}
MAX_FILE_BYTES = 32 * 1024 * 1024   # a workflow with long scripts is a few hundred kB
MAX_DEPTH = 64                      # nesting of JSON objects and arrays, the whole file and each option
MAX_ID = 200
ECHO = 200                          # longest value echoed in a message
INT64 = 2 ** 63 - 1


class WorkflowError(ValueError):
    """The workflow file or a change to it is invalid; the message names the node, option or connection.

    The message is one line: a newline or control character in an echoed value is written as an escape."""

    def __init__(self, message: str = ""):
        super().__init__(one_line(str(message)))


#: the folder a workflow's relative body files are read from (the workflow file's folder); None: the current folder
_FOLDER: ContextVar["Path | None"] = ContextVar("deepnodes_workflow_folder", default=None)


@contextmanager
def relative_to(folder: "Path | None"):
    """Within this block, a relative body file is read from `folder` (unchanged when `folder` is None)."""
    if folder is None:
        yield
        return
    token = _FOLDER.set(Path(folder))
    try:
        yield
    finally:
        _FOLDER.reset(token)


def current_folder() -> "Path | None":
    return _FOLDER.get()


def resolve_relative(name: str) -> Path:
    """A file named in a workflow: `~` expanded; a relative name is in the workflow file's folder."""
    p = Path(name).expanduser()
    base = _FOLDER.get()
    return p if p.is_absolute() or base is None else base / p


def short(value: Any, limit: int = ECHO) -> str:
    """A value as a message shows it: strings as they are, other values as JSON, cut to `limit` characters."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=True)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    return one_line(text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)")


_LONG_QUOTE = re.compile(r"'([^']{%d})[^']{40,}'" % ECHO)


def one_line(message: str, limit: int = 2000) -> str:
    """A message as one line: control characters (a newline in an echoed value...) escaped, a quoted value over
    200 characters cut (`column 'xxx…'`), the whole cut to `limit`."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in message):
        message = "".join(ch if ch == "\t" or 32 <= ord(ch) != 127 else repr(ch)[1:-1] for ch in message)
    if len(message) > ECHO:
        message = _LONG_QUOTE.sub(lambda m: f"'{m.group(1)}…'", message)
    return message if len(message) <= limit else message[:limit] + "…"


def shown(value: Any, limit: int = ECHO) -> str:
    """A value as JSON (strings quoted), cut to `limit` characters: for "...; it is <value>"."""
    return short(json.dumps(value, ensure_ascii=False) if isinstance(value, str) else value, limit)


# ---------------------------------------------------------------------------------------------- reading

def read_text(path: Path) -> str:
    """The file's text; refuses folders, files over MAX_FILE_BYTES (read at most that far) and invalid UTF-8."""
    if path.is_dir():
        raise WorkflowError(f"'{short(str(path))}' is a folder, not a workflow file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise WorkflowError(f"there is no workflow file '{short(str(path))}'") from None
    except OSError as e:
        raise WorkflowError(f"the workflow file '{short(str(path))}' cannot be read: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise WorkflowError(f"the workflow file '{short(str(path))}' is larger than {MAX_FILE_BYTES // 2 ** 20} MiB; "
                            "a workflow file is a few kB of JSON")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise WorkflowError(f"the workflow file '{short(str(path))}' is not UTF-8 text: byte {e.start} (line {line}) "
                            f"is 0x{data[e.start]:02x}") from None


def _no_constant(name: str):
    raise WorkflowError(f"the workflow file holds {name}, which is not a JSON number; write a number")


def parse(text: str) -> Any:
    """JSON text -> Python values; NaN / Infinity and nesting deeper than MAX_DEPTH are refused."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise WorkflowError(f"the workflow file is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise WorkflowError(f"the workflow file nests JSON deeper than {MAX_DEPTH} levels") from None
    check_value(data, "the workflow file")
    return data


def check_value(value: Any, where: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, integers beyond 64 bits and non-finite numbers (walks iteratively)."""
    todo = [(value, 0)]
    while todo:
        v, depth = todo.pop()
        if isinstance(v, bool) or v is None or isinstance(v, str):
            continue
        if isinstance(v, int):
            if not -INT64 - 1 <= v <= INT64:
                raise WorkflowError(f"{where} holds the integer {short(str(v), 40)}, beyond a 64-bit integer")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise WorkflowError(f"{where} holds {v}, which is not a finite number")
        elif isinstance(v, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                raise WorkflowError(f"{where} nests JSON deeper than {MAX_DEPTH} levels")
            items = v.values() if isinstance(v, dict) else v
            todo.extend((x, depth + 1) for x in items)


# ---------------------------------------------------------------------------------------------- the format

class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


Id = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
Port = Annotated[Any, Field()]


def _port(v: Any) -> str | int:
    if isinstance(v, str) and v:
        return v
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    raise ValueError("a port is given by its name or its number (0, 1, ...)")


class NodeFile(_Strict):
    id: Id
    type: Annotated[str, Field(min_length=1, max_length=500)]
    label: Annotated[str, Field(max_length=10_000)] = ""
    position: Annotated[list[float], Field(min_length=2, max_length=2)] = [0.0, 0.0]
    config: dict[str, Any] = {}


class ConnectionFile(_Strict):
    source: Id
    source_port: Port
    target: Id
    target_port: Port

    _ports = field_validator("source_port", "target_port")(classmethod(lambda cls, v: _port(v)))


class WorkflowFile(_Strict):
    format: str
    name: Annotated[str, Field(max_length=10_000)] = "workflow"
    description: Annotated[str, Field(max_length=2_000)] = ""  # one line: what the workflow is for (start page)
    runtime: Annotated[str, Field(max_length=200)] = ""  # expected run time, in words ("about 5 min on a laptop")
    nodes: list[NodeFile] = []
    connections: list[ConnectionFile] = []


def _where(loc: tuple, data: Any) -> str:
    """('nodes', 2, 'position', 0) -> "node entry 2 ('reader'), key 'position' item 0"."""
    if len(loc) >= 2 and loc[0] in ("nodes", "connections") and isinstance(loc[1], int):
        i = loc[1]
        entry = data[loc[0]][i] if isinstance(data.get(loc[0]), list) and i < len(data[loc[0]]) else None
        what = f"node entry {i}" if loc[0] == "nodes" else f"connection {i}"
        if loc[0] == "nodes" and isinstance(entry, dict) and isinstance(entry.get("id"), str):
            what += f" ('{short(entry['id'], 60)}')"
        rest = loc[2:]
    else:
        what, rest = "the workflow file", loc
    if rest:
        what += f", key '{rest[0]}'" + "".join(f" item {x}" if isinstance(x, int) else f".{x}" for x in rest[1:])
    return what


def validate(data: Any) -> WorkflowFile:
    """The file's data checked against the format; one sentence for the first thing wrong."""
    if not isinstance(data, dict):
        raise WorkflowError("the workflow file must hold a JSON object with 'format', 'nodes' and 'connections'")
    fmt = data.get("format")
    if not isinstance(fmt, str) or fmt not in SUPPORTED_FORMATS:
        if isinstance(fmt, str) and fmt.startswith("deepnodes.workflow/"):
            raise WorkflowError(f"the workflow file has format '{short(fmt)}', newer than this DeepNodes reads "
                                f"({FORMAT}); update DeepNodes")
        raise WorkflowError(f"the file is not a DeepNodes workflow: its 'format' is {shown(fmt)}, expected '{FORMAT}'")
    check_value(data, "the workflow file")
    try:
        return WorkflowFile.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        where = _where(tuple(e["loc"]), data)
        if e["type"] == "extra_forbidden":
            raise WorkflowError(f"{where} is not part of the workflow format") from None
        if e["type"] == "missing":
            raise WorkflowError(f"{where} is missing") from None
        msg = e["msg"].removeprefix("Value error, ").split(" or instance of ")[0]
        raise WorkflowError(f"{where}: {msg[0].lower() + msg[1:]}; it is {shown(e.get('input'))}") from None
