"""Training in H2O: GBM, DRF, GLM and Deep Learning, and AutoML with its leaderboard.

    model, scores = train(session, table, "gbm", target="label", params={"ntrees": 50}, seed=1)
    leader, leaderboard = automl(session, table, target="label", max_models=4, max_runtime_secs=60)

Options keep H2O's own names (ntrees, learn_rate, lambda_, hidden...). The target is checked before
anything goes to the cluster: missing values, and a classification target with a single class.
"""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from deepnodes.core.node import Cancelled
from deepnodes.ml.features import task_for
from deepnodes.table import ColumnError
from deepnodes.table.arrow import get_column, require_rows, spec_of

from .frames import flat_table, frame_to_arrow, resolve_columns, upload
from .model import H2OModel
from .session import H2OError, Session, cancel_jobs_when, translate_errors

#: algorithm name -> H2O estimator class (in h2o.estimators)
ALGORITHMS = {"gbm": "H2OGradientBoostingEstimator", "drf": "H2ORandomForestEstimator",
              "glm": "H2OGeneralizedLinearEstimator", "deeplearning": "H2ODeepLearningEstimator"}
AUTOML_ALGOS = ("DRF", "GLM", "XGBoost", "GBM", "DeepLearning", "StackedEnsemble")


def prepare(table: pa.Table, target: str, feature_columns: Sequence[str], task: str):
    """(target kind, task, features, the flat Arrow table H2O gets) after checking the target."""
    require_rows(table, "training table")
    spec = spec_of(table)
    kind = spec.column(target, option="target_column").kind
    task = task_for(kind, task, target)
    features = resolve_columns(spec, feature_columns, target)
    col = get_column(table, target, "target_column")
    if col.null_count:
        raise ColumnError(f"column '{target}' (option 'target_column') has {col.null_count} missing values; "
                          f"remove those rows first")
    flat = flat_table(table, features, target, target_enum=task == "classification")
    if task == "classification":
        n = pc.count_distinct(flat.column(target)).as_py()
        if n < 2:
            only = flat.column(target)[0].as_py()
            raise ColumnError(f"column '{target}' (option 'target_column') has only one class ({only!r}); "
                              f"classification needs at least two")
    return kind, task, features, flat


def _upload(session: Session, flat: pa.Table, what: str):
    with translate_errors(session, f"uploading the {what}"):
        return upload(flat, name="deepnodes-" + what.replace(" ", "-"))


def _wrap(session: Session, h2o_model, kind: str, task: str, target: str, features, params: dict) -> H2OModel:
    """The port object: MOJO bytes, class names and categories, taken from the trained H2O model."""
    out = h2o_model._model_json["output"]
    names, doms = list(out["names"]), list(out["domains"])
    domains = {n: list(d) for n, d in zip(names, doms) if d is not None and n != target}
    classes = list(doms[names.index(target)]) if task == "classification" else None
    with tempfile.TemporaryDirectory(prefix="deepnodes-h2o-mojo-") as d:
        with translate_errors(session, "exporting the model as a MOJO"):
            mojo = Path(h2o_model.download_mojo(path=d)).read_bytes()
    return H2OModel(h2o_model.algo, task, target, kind, classes, features, domains, mojo, params,
                    h2o_model.model_id, session.generation)


def scores(h2o_model, task: str, xval: bool) -> dict[str, float]:
    """The main metrics of a trained model: cross-validated when nfolds > 1, else on the training rows."""
    perf = h2o_model.model_performance(xval=True) if xval else h2o_model.model_performance(train=True)
    out: dict[str, float] = {}
    names = ("logloss", "mean_per_class_error", "auc") if task == "classification" else ("rmse", "mae", "r2")
    for n in names:
        try:
            v = getattr(perf, n)()
        except Exception:  # noqa: BLE001 - a metric H2O does not have for this model type
            continue
        if isinstance(v, (int, float)):
            out[("cv_" if xval else "train_") + n] = float(v)
    return out


def train(session: Session, table: pa.Table, algorithm: str, target: str, feature_columns: Sequence[str] = (),
          task: str = "auto", params: dict | None = None, seed: int = 0, nfolds: int = 0,
          log: Callable[[str], None] | None = None, cancelled: Callable[[], bool] | None = None
          ) -> tuple[H2OModel, dict[str, float]]:
    """Train one H2O estimator; returns the model and its metrics."""
    import h2o.estimators as est

    if algorithm not in ALGORITHMS:
        raise ValueError(f"option 'algorithm' '{algorithm}' is not one of {', '.join(ALGORITHMS)}")
    kind, task, features, flat = prepare(table, target, feature_columns, task)
    params = dict(params or {})
    if algorithm == "glm" and params.get("family", "AUTO") == "AUTO" and task == "classification":
        n = pc.count_distinct(flat.column(target)).as_py()
        params["family"] = "binomial" if n == 2 else "multinomial"
    cls = getattr(est, ALGORITHMS[algorithm])
    try:
        model_id = f"deepnodes_{algorithm}_{uuid.uuid4().hex[:12]}"
        estimator = cls(seed=seed, nfolds=nfolds, model_id=model_id, **params)
    except (TypeError, ValueError) as e:  # an unknown or ill-typed parameter name
        raise ValueError(f"H2O {algorithm} refused the options: {str(e).strip().splitlines()[0][:300]}") from None
    frame = _upload(session, flat, "training table")
    x = [n for n in flat.column_names if n != target]
    with translate_errors(session, f"training the H2O {algorithm} model"):
        with cancel_jobs_when(cancelled, model_id):
            estimator.train(x=x, y=target, training_frame=frame)
        result = scores(estimator, task, nfolds > 1)
        model = _wrap(session, estimator, kind, task, target, features, {"seed": seed, "nfolds": nfolds, **params})
    if log:
        log(f"trained {estimator.model_id}: " + ", ".join(f"{k} {v:.4g}" for k, v in result.items()))
    return model, result


def automl(session: Session, table: pa.Table, target: str, feature_columns: Sequence[str] = (), task: str = "auto",
           max_models: int = 0, max_runtime_secs: float = 60, exclude_algos: Sequence[str] = (),
           sort_metric: str = "AUTO", seed: int = 0, nfolds: int = 5, log: Callable[[str], None] | None = None,
           cancelled: Callable[[], bool] | None = None) -> tuple[H2OModel, pa.Table]:
    """Run H2O AutoML; returns the leader and the leaderboard (one row per model, best first)."""
    from h2o.automl import H2OAutoML, get_leaderboard

    bad = [a for a in exclude_algos if a not in AUTOML_ALGOS]
    if bad:
        raise ValueError(f"option 'exclude_algos' names {bad[0]!r}, which is not one of {', '.join(AUTOML_ALGOS)}")
    if not max_models and not max_runtime_secs:
        raise ValueError("options 'max_models' and 'max_runtime_secs' are both 0; give AutoML a limit")
    kind, task, features, flat = prepare(table, target, feature_columns, task)
    kw: dict[str, Any] = {"seed": seed, "nfolds": nfolds, "sort_metric": sort_metric,
                          "project_name": f"deepnodes_{uuid.uuid4().hex[:12]}", "verbosity": None}
    if max_models:
        kw["max_models"] = max_models
    if max_runtime_secs:
        kw["max_runtime_secs"] = max(1, int(round(max_runtime_secs)))  # H2O takes whole seconds only
    if exclude_algos:
        kw["exclude_algos"] = list(exclude_algos)
    aml = H2OAutoML(**kw)
    frame = _upload(session, flat, "training table")
    x = [n for n in flat.column_names if n != target]
    limit = " and ".join(s for s in (f"max_models {max_models}" if max_models else "",
                                     f"max_runtime_secs {max_runtime_secs:g}" if max_runtime_secs else "") if s)
    with translate_errors(session, "running H2O AutoML"):
        try:
            with cancel_jobs_when(cancelled, kw["project_name"]):
                aml.train(x=x, y=target, training_frame=frame)
        except (H2OError, Cancelled):
            raise
        except Exception as e:  # noqa: BLE001 - AutoML raises a plain error when nothing finished
            from h2o.exceptions import H2OJobCancelled

            if isinstance(e, H2OJobCancelled):
                raise Cancelled() from None
            if aml.leader is None:
                raise H2OError(f"H2O AutoML finished no model within {limit}; give it more time (option "
                               f"'max_runtime_secs') or fewer excluded algorithms ({str(e).strip()[:160]})") from None
            raise
        leader = aml.leader
        if leader is None:
            raise H2OError(f"H2O AutoML finished no model within {limit}; give it more time (option "
                           f"'max_runtime_secs') or fewer excluded algorithms")
        board = frame_to_arrow(get_leaderboard(aml, extra_columns="ALL"))
        model = _wrap(session, leader, kind, task, target, features,
                      {"seed": seed, "nfolds": nfolds, "automl": {k: v for k, v in kw.items() if k != "project_name"}})
    if log:
        log(f"AutoML trained {board.num_rows} models; leader {leader.model_id}")
    return model, board
