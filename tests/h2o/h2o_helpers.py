"""Helpers shared by the H2O tests."""
from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa


def split(table: pa.Table, seed: int = 0, test: float = 0.3) -> tuple[pa.Table, pa.Table]:
    idx = np.random.default_rng(seed).permutation(table.num_rows)
    k = int(table.num_rows * (1 - test))
    return table.take(pa.array(np.sort(idx[:k]))), table.take(pa.array(np.sort(idx[k:])))


def accuracy(out: pa.Table, target: str, column: str | None = None) -> float:
    pred = out.column(column or f"Prediction ({target})").to_pandas().astype(str).to_numpy()
    return float((pred == out.column(target).to_pandas().astype(str).to_numpy()).mean())


def ctx(events: list | None = None):
    from deepnodes.core import ExecutionContext

    return ExecutionContext("n", lambda ev: events.append(ev) if events is not None else None, threading.Event())
