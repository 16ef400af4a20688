"""Cross-validation folds: row indices of (training, held-out) per fold, with scikit-learn's splitters.

Random (`KFold`, shuffled), stratified by a class column (`StratifiedKFold`, shuffled) or leave-one-out; the
shuffle is seeded from the node's own seed (an int, never None, so the same folds come back every time).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

MAX_LEAVE_ONE_OUT = 1000  # leave-one-out runs the body once per row: for small data only


class FoldError(ValueError):
    """Folds that cannot be made from this table with these options (one sentence)."""


def _random_state(seed: int) -> int:
    # the purpose word goes before the seed (numpy's parallel-streams advice), as in dl/rng.py
    words = [int.from_bytes(b"fold", "little"), seed & 0xFFFF_FFFF, (seed >> 32) & 0xFFFF_FFFF]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def fold_indices(table: pa.Table, folds: int, method: str, seed: int,
                 class_column: str = "") -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, LeaveOneOut, StratifiedKFold

    n = table.num_rows
    x = np.zeros(n)
    if method == "leave_one_out":
        if n > MAX_LEAVE_ONE_OUT:
            raise FoldError(f"leave-one-out runs the body once per row and is for small data: the table has {n} "
                            f"rows (at most {MAX_LEAVE_ONE_OUT}); use method 'stratified' or 'random'")
        if n < 2:
            raise FoldError(f"leave-one-out needs at least 2 rows; the table has {n}")
        return [(tr, te) for tr, te in LeaveOneOut().split(x)]
    if n < folds:
        raise FoldError(f"{folds} folds need at least {folds} rows; the table has {n}")
    if method == "random":
        return list(KFold(folds, shuffle=True, random_state=_random_state(seed)).split(x))
    if class_column not in table.column_names:
        raise FoldError(f"option 'class_column': there is no column '{class_column}' "
                        f"(columns: {', '.join(table.column_names)})")
    y = np.array([str(v) for v in table.column(class_column).to_pylist()])
    values, counts = np.unique(y, return_counts=True)
    small = int(np.argmin(counts))
    if counts[small] < folds:
        raise FoldError(f"{folds} stratified folds need at least {folds} rows of every class in '{class_column}'; "
                        f"class '{values[small]}' has {counts[small]} (use fewer folds or method 'random')")
    return list(StratifiedKFold(folds, shuffle=True, random_state=_random_state(seed)).split(x, y))
