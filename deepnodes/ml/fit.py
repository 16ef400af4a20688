"""Training and applying classic models on tables.

    model, importance = fit_xgboost(table, target="label", params={"n_estimators": 200}, seed=0)
    out = predict(model, test_table)          # the table with "Prediction (label)" (+ class probabilities)
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa

from deepnodes.table import ColumnError
from deepnodes.table.arrow import get_column, require_rows, set_column, spec_of

from .features import (encode_classes, feature_matrix, regression_target, resolve_features, target_kind,
                       task_for)
from .model import ClassicModel

#: the curated scikit-learn algorithms: name -> (classifier, regressor) import paths
SKLEARN_ALGORITHMS: dict[str, tuple[str | None, str | None]] = {
    "random_forest": ("sklearn.ensemble:RandomForestClassifier", "sklearn.ensemble:RandomForestRegressor"),
    "logistic_regression": ("sklearn.linear_model:LogisticRegression", None),
    "ridge": (None, "sklearn.linear_model:Ridge"),
    "gradient_boosting": ("sklearn.ensemble:GradientBoostingClassifier", "sklearn.ensemble:GradientBoostingRegressor"),
    "svm": ("sklearn.svm:SVC", "sklearn.svm:SVR"),
    "knn": ("sklearn.neighbors:KNeighborsClassifier", "sklearn.neighbors:KNeighborsRegressor"),
}


def _prepare(table: pa.Table, target: str, feature_columns: Sequence[str], task: str):
    require_rows(table, "training table")
    spec = spec_of(table)
    kind = target_kind(spec, target)
    task = task_for(kind, task, target)
    features = resolve_features(spec, feature_columns, exclude=[target])
    x = feature_matrix(table, features)
    col = get_column(table, target, "target_column")
    if task == "classification":
        y, classes = encode_classes(col, target)
    else:
        y, classes = regression_target(col, target), None
    return kind, task, features, x, y, classes


def _check_finite(x: np.ndarray, what: str) -> None:
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        raise ColumnError(f"the {what} has {bad} rows with missing or infinite feature values; remove or fill them first")


# --------------------------------------------------------------------------- XGBoost
def fit_xgboost(table: pa.Table, target: str, feature_columns: Sequence[str] = (), task: str = "auto",
                params: dict | None = None, seed: int = 0, validation: pa.Table | None = None,
                early_stopping_rounds: int = 0, log: Callable[[str], None] | None = None
                ) -> tuple[ClassicModel, pa.Table]:
    """Train an XGBoost model; returns it and its feature importance table."""
    import xgboost as xgb

    kind, task, features, x, y, classes = _prepare(table, target, feature_columns, task)
    params = dict(params or {})
    kw: dict[str, Any] = {"random_state": seed, "n_jobs": params.pop("n_jobs", 0) or None, **params}
    eval_set = None
    if validation is not None:
        require_rows(validation, "validation table")
        xv = feature_matrix(validation, features)
        colv = get_column(validation, target, "target_column")
        yv = encode_classes(colv, target, classes)[0] if task == "classification" else regression_target(colv, target)
        eval_set = [(xv, yv)]
        if early_stopping_rounds:
            kw["early_stopping_rounds"] = early_stopping_rounds
    elif early_stopping_rounds:
        raise ValueError("option 'early_stopping_rounds' needs a validation table on the 'validation' input")
    est = xgb.XGBClassifier(**kw) if task == "classification" else xgb.XGBRegressor(**kw)
    try:
        est.fit(x, y, eval_set=eval_set, verbose=False)
    except xgb.core.XGBoostError as e:
        raise ValueError(f"XGBoost refused the options: {str(e).strip().splitlines()[0][:300]}") from None
    if log and eval_set is not None:
        res = est.evals_result().get("validation_0", {})
        for metric, vals in res.items():
            log(f"validation {metric}: {vals[-1]:.5g} after {len(vals)} rounds")
    model = ClassicModel("xgboost", "xgboost", task, est, features, target, kind, classes,
                         {k: v for k, v in kw.items() if k != "n_jobs"})
    return model, xgboost_importance(model)


def xgboost_importance(model: ClassicModel) -> pa.Table:
    """One row per feature: gain, total gain, weight (number of splits) and cover; sorted by gain."""
    booster = model.estimator.get_booster()
    names = model.feature_names
    cols: dict[str, np.ndarray] = {}
    for kind in ("gain", "total_gain", "weight", "cover"):
        score = booster.get_score(importance_type=kind)
        # the booster names features f0, f1... when trained on a plain matrix
        cols[kind] = np.array([float(score.get(f"f{i}", score.get(n, 0.0))) for i, n in enumerate(names)])
    total = cols["gain"].sum()
    share = cols["gain"] / total if total > 0 else cols["gain"]
    order = np.argsort(-cols["gain"], kind="stable")
    return pa.table({"feature": pa.array([names[i] for i in order]),
                     "importance": pa.array(share[order]),
                     **{k: pa.array(v[order]) for k, v in cols.items()}})


# --------------------------------------------------------------------------- scikit-learn
def make_sklearn(algorithm: str, task: str, params: dict, seed: int, standardize: bool):
    import importlib

    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if algorithm not in SKLEARN_ALGORITHMS:
        raise ValueError(f"option 'algorithm' '{algorithm}' is not one of {', '.join(SKLEARN_ALGORITHMS)}")
    path = SKLEARN_ALGORITHMS[algorithm][0 if task == "classification" else 1]
    if path is None:
        other = "ridge" if algorithm == "logistic_regression" else "logistic_regression"
        raise ValueError(f"option 'algorithm' '{algorithm}' does not do {task}; use '{other}' instead")
    mod, _, name = path.partition(":")
    cls = getattr(importlib.import_module(mod), name)
    accepted = cls().get_params()
    kw = {}
    if "random_state" in accepted:
        kw["random_state"] = seed
    if name == "SVC" and "probability" in accepted:
        import warnings

        warnings.filterwarnings("ignore", message=".*probability.*", category=FutureWarning)
        kw["probability"] = True
    for k, v in params.items():
        if k not in accepted:
            raise ValueError(f"'{k}' (option 'params') is not a parameter of {name}; its parameters are "
                             f"{', '.join(sorted(accepted))}")
        kw[k] = v
    est = cls(**kw)
    return Pipeline([("scale", StandardScaler()), ("model", est)]) if standardize else est


def fit_sklearn(table: pa.Table, target: str, algorithm: str, feature_columns: Sequence[str] = (), task: str = "auto",
                params: dict | None = None, seed: int = 0, standardize: bool = True) -> ClassicModel:
    kind, task, features, x, y, classes = _prepare(table, target, feature_columns, task)
    _check_finite(x, "training table")
    est = make_sklearn(algorithm, task, dict(params or {}), seed, standardize)
    try:
        est.fit(x, y)
    except (ValueError, TypeError) as e:
        raise ValueError(f"scikit-learn refused the options or data: {str(e).splitlines()[0][:300]}") from None
    return ClassicModel("sklearn", algorithm, task, est, features, target, kind, classes,
                        {"standardize": standardize, "seed": seed, **dict(params or {})})


# --------------------------------------------------------------------------- prediction
def prediction_column_name(model: ClassicModel, name: str = "") -> str:
    return name or f"Prediction ({model.target})"


def predict(model: ClassicModel, table: pa.Table, prediction_column: str = "", probabilities: bool = False,
            batch_size: int = 65536) -> pa.Table:
    """`table` with the prediction appended (and, for classifiers, one probability column per class)."""
    x = feature_matrix(table, model.features)
    if model.library == "sklearn":
        _check_finite(x, "input table")
    est = model.estimator
    name = prediction_column_name(model, prediction_column)
    out = table
    if model.task == "regression":
        pred = np.concatenate([est.predict(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]) \
            if len(x) else np.empty(0)
        return set_column(out, name, pa.array(pred.astype(np.float64)))
    proba = np.empty((0, len(model.class_names)))
    if len(x):
        proba = np.concatenate([_proba(est, x[i:i + batch_size], len(model.class_names))
                                for i in range(0, len(x), batch_size)])
    return append_classes(out, name, model.target, model.target_kind, model.class_names, proba.argmax(axis=1),
                          proba, probabilities)


def append_classes(out: pa.Table, name: str, target: str, target_kind: str, classes: Sequence[str],
                   idx: np.ndarray, proba: np.ndarray, probabilities: bool) -> pa.Table:
    """`out` with the predicted class (index `idx` into `classes`) and optionally one probability column per class."""
    if target_kind in ("integer",):
        out = set_column(out, name, pa.array(np.array([int(c) for c in classes], dtype=np.int64)[idx]))
    else:
        labels = pa.DictionaryArray.from_arrays(pa.array(np.asarray(idx).astype(np.int32)), pa.array(list(classes)))
        out = set_column(out, name, labels, kind="category", categories=list(classes))
    if probabilities:
        for j, c in enumerate(classes):
            out = set_column(out, f"P ({target}={c})", pa.array(proba[:, j].astype(np.float64)))
    return out


def _proba(est: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities; a classifier without them gives 1 for its predicted class."""
    if hasattr(est, "predict_proba"):
        return est.predict_proba(x)
    out = np.zeros((len(x), n_classes))
    out[np.arange(len(x)), est.predict(x).astype(int)] = 1.0
    return out
