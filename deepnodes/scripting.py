"""Running a user's Python code inside a node.

    result = run_script(code, {"input_table": df}, log=ctx.log)   # the namespace after the run
    result["output_table"]

- Errors name the user's own line: "line 3 of the script: NameError: name 'x' is not defined".
- `print` and anything written to stdout / stderr while the script runs goes to `log` line by line
  (stderr as warnings). Only the script's own thread is captured: other nodes running at the same time
  keep their output.
- The code is compiled from the workflow's config; nothing is imported from files or unpickled.

This module stays free of pyarrow and torch; `table_for_script` / `table_from_script` convert tables.
"""
from __future__ import annotations

import sys
import threading
import traceback
from typing import Any, Callable

SCRIPT_FILE = "<script>"


class ScriptError(Exception):
    """The user's script failed; the message names the line of the script and the error."""


# --------------------------------------------------------------------------- stdout / stderr routing
class _Router:
    """A stand-in for sys.stdout / sys.stderr that sends what one thread writes to that thread's sink."""

    def __init__(self, original, level: str):
        self.original = original
        self.level = level
        self.local = threading.local()

    def _sink(self):
        return getattr(self.local, "sink", None)

    def write(self, s: str) -> int:
        sink = self._sink()
        if sink is None:
            return self.original.write(s)
        sink.write(s, self.level)
        return len(s)

    def flush(self) -> None:
        if self._sink() is None:
            self.original.flush()

    def __getattr__(self, name):  # isatty, encoding, fileno...
        return getattr(self.original, name)


class _LineSink:
    def __init__(self, log: Callable[[str, str], None]):
        self.log = log
        self.buffers = {"info": "", "warning": ""}

    def write(self, s: str, level: str) -> None:
        buf = self.buffers[level] + s
        *lines, rest = buf.split("\n")
        for line in lines:
            self.log(line, level)
        self.buffers[level] = rest

    def close(self) -> None:
        for level, rest in self.buffers.items():
            if rest:
                self.log(rest, level)
        self.buffers = {"info": "", "warning": ""}


_install_lock = threading.Lock()


def _routers() -> tuple[_Router, _Router]:
    with _install_lock:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout, "info")
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr, "warning")
        return sys.stdout, sys.stderr  # type: ignore[return-value]


class capture_output:
    """Context manager: what this thread prints goes to `log(line, level)`."""

    def __init__(self, log: Callable[[str, str], None] | None):
        self.sink = _LineSink(log) if log is not None else None

    def __enter__(self):
        if self.sink is not None:
            out, err = _routers()
            self.prev = (getattr(out.local, "sink", None), getattr(err.local, "sink", None))
            out.local.sink = self.sink
            err.local.sink = self.sink
        return self

    def __exit__(self, *exc):
        if self.sink is not None:
            out, err = sys.stdout, sys.stderr
            if isinstance(out, _Router):
                out.local.sink = self.prev[0]
            if isinstance(err, _Router):
                err.local.sink = self.prev[1]
            self.sink.close()
        return False


# --------------------------------------------------------------------------- running code
def compile_script(code: str, option: str = "script"):
    """Compile the user's code; a syntax error names its line."""
    if not code.strip():
        raise ScriptError(f"option '{option}' is empty; write the Python code to run")
    try:
        return compile(code, SCRIPT_FILE, "exec")
    except SyntaxError as e:
        where = f"line {e.lineno} of the script" if e.lineno else "the script"
        raise ScriptError(f"{where}: SyntaxError: {e.msg}") from None


def script_line(tb) -> int | None:
    """The last line of the user's script in a traceback (None when the script is not in it)."""
    line = None
    for frame in traceback.extract_tb(tb):
        if frame.filename == SCRIPT_FILE:
            line = frame.lineno
    return line


def describe_error(exc: BaseException) -> str:
    line = script_line(exc.__traceback__)
    where = f"line {line} of the script" if line is not None else "the script"
    msg = str(exc)
    return f"{where}: {type(exc).__name__}" + (f": {msg}" if msg else "")


def run_script(code: str, namespace: dict[str, Any], log: Callable[[str, str], None] | None = None,
               option: str = "script", passthrough: tuple[type[BaseException], ...] = ()) -> dict[str, Any]:
    """Run `code` with `namespace` as its globals; returns the namespace afterwards.

    An exception raised by the script becomes a `ScriptError` naming the script's line; exception types in
    `passthrough` (e.g. the engine's `Cancelled`) are re-raised as they are."""
    compiled = compile_script(code, option)
    ns: dict[str, Any] = {"__name__": "__deepnodes_script__", "__builtins__": __builtins__}
    ns.update(namespace)
    with capture_output(log):
        try:
            exec(compiled, ns)  # noqa: S102 - running the user's own code is this node's purpose
        except passthrough:
            raise
        except SystemExit as e:
            raise ScriptError(f"the script called exit({e.code}); return a result instead") from None
        except Exception as e:  # noqa: BLE001
            raise ScriptError(describe_error(e)) from e
    return ns


def call_in_script(fn: Callable, *args, passthrough: tuple[type[BaseException], ...] = (), **kw):
    """Call a function the script defined (or an object it returned), mapping its errors to script lines."""
    try:
        return fn(*args, **kw)
    except passthrough:
        raise
    except Exception as e:  # noqa: BLE001
        raise ScriptError(describe_error(e)) from e


def type_name(obj: Any) -> str:
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__.split('.')[0]}.{t.__name__}"


# --------------------------------------------------------------------------- tables
def table_for_script(table, api: str):
    """A table as the script sees it: a pandas DataFrame (tensor cells as numpy arrays) or a pyarrow Table."""
    if table is None:
        return None
    if api == "pyarrow":
        return table
    from deepnodes.table.arrow import to_pandas

    return to_pandas(table)


def table_from_script(obj: Any, name: str = "output_table"):
    """The script's result as a pyarrow Table: a DataFrame, a pyarrow Table / RecordBatch or a dict of columns.

    DataFrame columns whose cells are numpy arrays of one shape become tensor columns."""
    import numpy as np
    import pyarrow as pa

    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if isinstance(obj, dict):
        if pd is None:
            raise ScriptError(f"'{name}' is a dict; pandas is needed to turn it into a table")
        try:
            obj = pd.DataFrame(obj)
        except Exception as e:  # noqa: BLE001
            raise ScriptError(f"'{name}' is a dict that does not make a table ({e})") from None
    if pd is not None and isinstance(obj, pd.DataFrame):
        from deepnodes.table.arrow import tensor_array

        arrays, fields = [], []
        for col in obj.columns:
            s = obj[col]
            first = s.iloc[0] if len(s) else None
            if isinstance(first, np.ndarray):
                shapes = {np.shape(v) for v in s}
                if len(shapes) != 1:
                    raise ScriptError(f"column '{col}' of '{name}' holds arrays of different shapes "
                                      f"({', '.join(map(str, sorted(shapes)[:3]))}); a tensor column needs one shape")
                arr = tensor_array(np.stack(s.to_numpy()))
            else:
                try:
                    arr = pa.Array.from_pandas(s)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                    raise ScriptError(f"column '{col}' of '{name}' cannot become a table column ({e})") from None
            arrays.append(arr)
            fields.append(pa.field(str(col), arr.type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    raise ScriptError(f"the script must assign a pandas DataFrame or a pyarrow Table to '{name}'; "
                      f"it assigned {'nothing' if obj is None else 'a ' + type_name(obj)}")
