"""What the classic learner and predictor nodes share: configure-time specs and option checks."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from deepnodes.core import NodeConfig, NodeError
from deepnodes.table import ColumnError, ColumnSpec, TableSpec

FEATURE_KINDS = ("number", "integer", "boolean", "tensor")
#: the node that applies each kind of model (named in the error when a model reaches the wrong predictor)
PREDICTOR_OF = {"xgboost": "XGBoost Predictor", "sklearn": "scikit-learn Predictor", "h2o": "H2O Predictor"}


class TargetConfig(NodeConfig):
    """The options every classic learner starts with: what to predict, from which columns, as which task."""

    target_column: str = Field("", description="the column to predict")
    feature_columns: list[str] = Field(default_factory=list, description="the columns used as features; empty = "
                                       "every column the learner can use (number and tensor columns; H2O also "
                                       "category columns) but the target")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="'auto' = regression for a number target, classification otherwise")


class PredictorConfig(NodeConfig):
    """The options of every classic predictor."""

    prediction_column: str = Field("", description="name of the prediction column; empty = 'Prediction (target)'")
    append_probabilities: bool = Field(False, description="append one probability column per class (classifiers)")


def learner_model_spec(library: str, algorithm: str, spec: TableSpec, target: str, features: list[str], task: str):
    """The model spec a learner will produce, worked out from the training table's spec."""
    from deepnodes.core.model import ModelSpec

    if not target:
        raise NodeError("option 'target_column' is empty; choose the column to predict")
    col = spec.column(target, option="target_column")
    from deepnodes.ml.features import resolve_features, task_for  # numpy-light, no pyarrow at import

    task = task_for(col.kind, task, target)
    feats = resolve_features(spec, features, exclude=[target])
    return ModelSpec(library, {"algorithm": algorithm, "task": task, "target": target, "target_kind": col.kind,
                               "class_names": list(col.categories) if col.categories else None,
                               "features": [f.to_json() for f in feats]})


def predictor_spec(model_spec: Any, table: TableSpec | None, library: str | None, node_name: str,
                   prediction_column: str, probabilities: bool) -> TableSpec | None:
    if model_spec is None or table is None:
        return None
    if getattr(model_spec, "port_type", None) != "model":
        raise NodeError(f"the 'model' input needs a model from a learner or Model Reader; it got a "
                        f"{getattr(model_spec, 'port_type', 'different')} port")
    if library is not None and model_spec.model_type != library:
        other = PREDICTOR_OF.get(model_spec.model_type)
        hint = f"; use the {other} node" if other else ""
        raise NodeError(f"the {node_name} applies {library} models; the model on its input is a "
                        f"'{model_spec.model_type}' model{hint}")
    info = model_spec.info or {}
    for f in info.get("features", []):
        c = table.column(f["name"])
        if f["kind"] == "tensor" and (c.kind != "tensor" or list(c.shape or ()) != list(f["shape"])):
            raise ColumnError(f"column '{f['name']}' must be a tensor column of shape {tuple(f['shape'])} as when the "
                              f"model was trained; it is a {c.kind} column"
                              + (f" of shape {tuple(c.shape)}" if c.shape else ""))
        if f["kind"] != "tensor" and c.kind not in ("number", "integer", "boolean"):
            raise ColumnError(f"column '{f['name']}' must be a number column as when the model was trained; "
                              f"it is a {c.kind} column")
    return table.with_columns(prediction_columns(info, prediction_column, probabilities))


def prediction_columns(info: dict, prediction_column: str, probabilities: bool) -> list[ColumnSpec]:
    """The columns a predictor appends, from the model spec's info: the prediction, then per-class probabilities."""
    target = info.get("target", "target")
    name = prediction_column or f"Prediction ({target})"
    classes = info.get("class_names")
    if info.get("task") == "regression":
        cols = [ColumnSpec(name, "number", "double")]
    elif info.get("target_kind") == "integer":
        cols = [ColumnSpec(name, "integer", "int64")]
    else:
        cols = [ColumnSpec(name, "category", "string", None, tuple(classes) if classes else None)]
    if probabilities and info.get("task") == "classification" and classes:
        cols += [ColumnSpec(f"P ({target}={c})", "number", "double") for c in classes]
    return cols
