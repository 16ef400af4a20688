"""What every loop node does the same way: iteration k of n, a cancel after the current iteration with the
finished iterations kept, the per-iteration scalar results, and the Loop End's concatenation of the body's
table outputs with an iteration column. Cross-Validation, Chunk Loop and Folder Loop use it."""
from __future__ import annotations

from typing import Any, Callable

from deepnodes.core import Cancelled, NodeError


def run_loop(ctx, n: int, unit: str, step: Callable[[int], Any]) -> tuple[list, bool]:
    """Call `step(k)` for k = 0..n-1 with progress '{unit} k of n'. A cancel ends the loop after the current
    step; nothing finished raises `Cancelled`. Returns (the steps' results, whether all n ran)."""
    done: list = []
    for k in range(n):
        if ctx.cancelled:
            break
        ctx.progress(k / n, f"{unit} {k + 1} of {n}")
        done.append(step(k))
    ctx.progress(len(done) / n, f"{len(done)} of {n} {unit}s")
    if not done:
        raise Cancelled()
    return done, len(done) == n


def finish(outputs: list, complete: bool) -> list:
    """The loop's outputs; after a cancel they are kept as partial outputs (the engine marks them not final)."""
    if not complete:
        stopped = Cancelled()
        stopped.outputs = outputs
        raise stopped
    return outputs


def numeric(scalars: dict[str, Any]) -> dict[str, float]:
    """The body's numeric scalar results (`node.name`), as floats: one row of a loop's per-iteration table."""
    return {n: float(v) for n, v in scalars.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def rows_table(rows: list[dict], first: list[str]):
    """One row per iteration: the `first` columns as they are, every other (scalar) column as float64."""
    import pyarrow as pa

    names = list(dict.fromkeys(n for r in rows for n in r))
    return pa.table({n: (pa.array([r.get(n) for r in rows]) if n in first
                         else pa.array([r.get(n) for r in rows], pa.float64())) for n in names})


def concat_with_column(tables: list, column: str, values: list[int]):
    """The Loop End: tables appended in order, each with `column` = its iteration number."""
    import pyarrow as pa

    parts = [t.append_column(column, pa.array([v] * t.num_rows, pa.int64())) for t, v in zip(tables, values)]
    return pa.concat_tables(parts, promote_options="default")


def table_outputs(body, owner_needs: str) -> list[str]:
    """The names of a loop body's Component Outputs, which must all be tables (the loop concatenates them)."""
    outs = [(name, t) for _, name, t in body.outputs]
    if not outs or any(t != "table" for _, t in outs):
        have = ", ".join(f"{n} ({t})" for n, t in outs) or "none"
        raise NodeError(f"its body needs {owner_needs} and at least one Component Output of type table, "
                        f"all of type table (the loop appends them); it has outputs {have}")
    return [n for n, _ in outs]


def column_spec_added(spec, column: str, port: str):
    """An output spec with the iteration column added (refused if the body's table already has one of that name)."""
    from deepnodes.table import ColumnSpec

    if spec is None:
        return None
    if column in spec:
        raise NodeError(f"the body's output '{port}' already has a column '{column}'; set option "
                        f"'iteration_column' to another name")
    return spec.with_columns([ColumnSpec(column, "integer", "int64")])
