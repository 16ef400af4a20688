"""Scoring predictions against the truth: class metrics and numeric metrics (numpy, scikit-learn's definitions;
scikit-learn itself is not imported: it costs ~50 MB of memory and seconds of import).

`score_classes` gives accuracy, error rate and Cohen's kappa, a confusion matrix table (one row per
actual class, one column per predicted class), per-class statistics (TP, FP, TN, FN, precision,
recall, F1, support) and a one-row overall table. Rows where the truth or the prediction is missing
are left out and counted. `score_numbers` gives R², MAE, MSE, RMSE and the mean signed difference.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow import spec_of
from .ops import LABEL_KINDS, NUMBER_KINDS, require_column, require_rows
from .spec import CATEGORIES_KEY, ColumnError, ColumnSpec, TableSpec

CLASS_STATS_SPEC = TableSpec((
    ColumnSpec("class", "string", "string"), ColumnSpec("true_positives", "integer", "int64"),
    ColumnSpec("false_positives", "integer", "int64"), ColumnSpec("true_negatives", "integer", "int64"),
    ColumnSpec("false_negatives", "integer", "int64"), ColumnSpec("precision", "number", "double"),
    ColumnSpec("recall", "number", "double"), ColumnSpec("f1", "number", "double"),
    ColumnSpec("support", "integer", "int64")))
OVERALL_NAMES = ("accuracy", "error_rate", "cohen_kappa", "correct", "wrong", "rows_ignored",
                 "macro_precision", "macro_recall", "macro_f1", "weighted_f1")
OVERALL_SPEC = TableSpec(tuple(ColumnSpec(n, "integer", "int64") if n in ("correct", "wrong", "rows_ignored")
                               else ColumnSpec(n, "number", "double") for n in OVERALL_NAMES))
NUMERIC_NAMES = ("r2", "mae", "mse", "rmse", "mean_signed_difference", "rows", "rows_ignored")
NUMERIC_SPEC = TableSpec(tuple(ColumnSpec(n, "integer", "int64") if n.startswith("rows")
                               else ColumnSpec(n, "number", "double") for n in NUMERIC_NAMES))


def score_classes_spec(spec: TableSpec, truth: str, prediction: str) -> tuple[TableSpec, TableSpec, TableSpec]:
    t = require_column(spec, truth, "truth_column", LABEL_KINDS)
    p = require_column(spec, prediction, "prediction_column", LABEL_KINDS)
    labels = None
    if t.categories is not None:
        labels = list(t.categories) + [c for c in (p.categories or ()) if c not in t.categories]
    cols = [ColumnSpec("actual", "string", "string")]
    if labels is not None:
        cols += [ColumnSpec(name, "integer", "int64") for name in labels]
        confusion = TableSpec(tuple(cols))
    else:
        confusion = TableSpec(tuple(cols))  # the class columns are known only once the data is there
    return confusion, CLASS_STATS_SPEC, OVERALL_SPEC


def _labels(col: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not pa.types.is_string(col.type):
        col = col.cast(pa.string())
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


def _categories(table: pa.Table, name: str) -> list[str] | None:
    import json

    meta = table.schema.field(name).metadata or {}
    return list(json.loads(meta[CATEGORIES_KEY])) if CATEGORIES_KEY in meta else None


@dataclass
class ClassScores:
    accuracy: float
    error_rate: float
    cohen_kappa: float
    labels: list[str]
    confusion: np.ndarray
    confusion_table: pa.Table
    class_table: pa.Table
    overall_table: pa.Table


def score_classes(table: pa.Table, truth: str, prediction: str) -> ClassScores:
    score_classes_spec(spec_of(table), truth, prediction)
    require_rows(table)
    y, p = _labels(table.column(truth)), _labels(table.column(prediction))
    ok = pc.and_(pc.is_valid(table.column(truth)), pc.is_valid(table.column(prediction))).to_numpy(zero_copy_only=False)
    ignored = int((~ok).sum())
    y, p = y[ok].astype(str), p[ok].astype(str)
    if len(y) == 0:
        raise ColumnError(f"every row misses the truth (column '{truth}') or the prediction (column '{prediction}')")
    labels = _categories(table, truth) or []
    if labels:  # as configure said: the truth's categories, then the prediction's others
        labels += [c for c in (_categories(table, prediction) or []) if c not in labels]
    seen = set(labels)
    for extra in sorted(set(np.unique(y)) | set(np.unique(p))):
        if extra not in seen:
            labels.append(extra)
            seen.add(extra)
    cm = confusion(y, p, labels)
    tp = np.diag(cm).astype(np.int64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    tn = cm.sum() - tp - fp - fn
    acc = float(tp.sum() / len(y))
    off = 1.0 - np.eye(len(labels))  # Cohen's kappa: 1 - observed / chance disagreement (as scikit-learn)
    chance = float((off * np.outer(cm.sum(axis=0), cm.sum(axis=1))).sum()) / len(y)
    kappa = 1.0 - float((off * cm).sum()) / chance if chance else (1.0 if acc == 1.0 else 0.0)
    support = cm.sum(axis=1)
    prec, rec, f1 = _ratio(tp, tp + fp), _ratio(tp, support), _ratio(2 * tp, 2 * tp + fp + fn)  # 0 where 0/0
    conf = {"actual": pa.array(labels, pa.string())}
    for j, name in enumerate(labels):
        conf[name] = pa.array(cm[:, j].astype(np.int64))
    class_table = pa.table({"class": pa.array(labels, pa.string()), "true_positives": tp, "false_positives": fp,
                            "true_negatives": tn, "false_negatives": fn, "precision": prec.astype(np.float64),
                            "recall": rec.astype(np.float64), "f1": f1.astype(np.float64),
                            "support": support.astype(np.int64)})
    correct = int(tp.sum())
    w = support / support.sum() if support.sum() else support
    overall = {"accuracy": acc, "error_rate": 1.0 - acc, "cohen_kappa": kappa, "correct": correct,
               "wrong": int(len(y) - correct), "rows_ignored": ignored, "macro_precision": float(prec.mean()),
               "macro_recall": float(rec.mean()), "macro_f1": float(f1.mean()), "weighted_f1": float((f1 * w).sum())}
    overall_table = pa.table({k: pa.array([v], pa.int64() if isinstance(v, int) else pa.float64())
                              for k, v in overall.items()})
    return ClassScores(acc, 1.0 - acc, kappa, labels, cm, pa.table(conf), class_table, overall_table)


def confusion(y: np.ndarray, p: np.ndarray, labels: list[str]) -> np.ndarray:
    """The confusion matrix (rows: truth, columns: prediction, in the order of `labels`, which hold every value)."""
    uniq, inv = np.unique(np.concatenate([y, p]), return_inverse=True)
    index = {c: i for i, c in enumerate(labels)}
    codes = np.array([index[u] for u in uniq], dtype=np.int64)[inv.reshape(-1)]
    k = len(labels)
    return np.bincount(codes[:len(y)] * k + codes[len(y):], minlength=k * k).reshape(k, k).astype(np.int64)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros(len(a), dtype=np.float64), where=b != 0)


def score_numbers_spec(spec: TableSpec, truth: str, prediction: str) -> TableSpec:
    require_column(spec, truth, "truth_column", NUMBER_KINDS)
    require_column(spec, prediction, "prediction_column", NUMBER_KINDS)
    return NUMERIC_SPEC


def score_numbers(table: pa.Table, truth: str, prediction: str) -> dict[str, float]:
    """R², MAE, MSE, RMSE and mean signed difference (prediction - truth), as a dict and a one-row table."""
    score_numbers_spec(spec_of(table), truth, prediction)
    require_rows(table)
    y = pc.fill_null(table.column(truth).cast(pa.float64()), float("nan")).to_numpy()
    p = pc.fill_null(table.column(prediction).cast(pa.float64()), float("nan")).to_numpy()
    ok = ~(np.isnan(y) | np.isnan(p))
    y, p = y[ok], p[ok]
    if len(y) == 0:
        raise ColumnError(f"every row misses the truth (column '{truth}') or the prediction (column '{prediction}')")
    mse = float(np.mean((y - p) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))  # a constant truth: 1 if predicted exactly, else 0 (as scikit-learn)
    r2 = float("nan") if len(y) < 2 else 1.0 - mse * len(y) / ss_tot if ss_tot else (1.0 if mse == 0 else 0.0)
    return {"r2": r2, "mae": float(np.mean(np.abs(y - p))), "mse": mse, "rmse": float(np.sqrt(mse)),
            "mean_signed_difference": float(np.mean(p - y)), "rows": int(len(y)), "rows_ignored": int((~ok).sum())}


def numbers_table(scores: dict) -> pa.Table:
    return pa.table({k: pa.array([scores[k]], pa.int64() if k.startswith("rows") else pa.float64())
                     for k in NUMERIC_NAMES})
