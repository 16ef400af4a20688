"""XGBoost Learner and Predictor."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, Out, limits, node
from deepnodes.table import ColumnSpec, TableSpec

from ._common import PredictorConfig, TargetConfig, learner_model_spec, predictor_spec

IMPORTANCE_SPEC = TableSpec((ColumnSpec("feature", "string", "string"),
                             *(ColumnSpec(n, "number", "double")
                               for n in ("importance", "gain", "total_gain", "weight", "cover"))))


@node("deepnodes.ml.XGBoostLearner", name="XGBoost Learner", category="Machine Learning/XGBoost")
class XGBoostLearner(Node):
    """Trains gradient-boosted trees (XGBoost) for classification or regression on number and tensor columns.

    Features are number, integer and boolean columns (one feature each) and tensor columns (one feature per
    element, e.g. the output of a pretrained network's feature extractor). The second output lists every
    feature's importance (gain share, gain, total gain, number of splits, cover), most important first.
    """

    inputs = [In("table", "table", "the training rows"),
              In("validation", "table", "optional validation rows (early stopping, logged metrics)", optional=True)]
    outputs = [Out("model", "model", "the trained XGBoost model"),
               Out("importance", "table", "feature importance, one row per feature")]

    class Config(TargetConfig):
        n_estimators: int = Field(100, ge=1, le=100000, description="number of boosting rounds (trees)")
        max_depth: int = Field(6, ge=0, le=64, description="maximum tree depth (0 = no limit, with 'lossguide')")
        learning_rate: float = Field(0.3, gt=0, le=1, description="shrinkage applied to each tree (eta)")
        subsample: float = Field(1.0, gt=0, le=1, description="share of rows sampled for each tree")
        colsample_bytree: float = Field(1.0, gt=0, le=1, description="share of features sampled for each tree")
        min_child_weight: float = Field(1.0, ge=0, description="minimum sum of instance weight in a leaf")
        gamma: float = Field(0.0, ge=0, description="minimum loss reduction to make a further split")
        reg_lambda: float = Field(1.0, ge=0, description="L2 regularisation on leaf weights")
        reg_alpha: float = Field(0.0, ge=0, description="L1 regularisation on leaf weights")
        tree_method: Literal["hist", "approx", "exact"] = Field("hist", description="tree construction algorithm")
        early_stopping_rounds: int = Field(0, ge=0, le=limits.EPOCHS,
            description="stop when the validation metric has not improved "
                                           "for this many rounds (0 = off; needs the validation input)")
        n_jobs: int = Field(0, ge=0, le=limits.THREADS, description="threads (0 = all cores)")
        seed: int = Field(0, le=limits.SEED, description="random seed for row and feature sampling")

    def configure(self, specs):
        table, _ = specs
        if table is None:
            return [None, IMPORTANCE_SPEC]
        c = self.config
        return [learner_model_spec("xgboost", "xgboost", table, c.target_column, c.feature_columns, c.task),
                IMPORTANCE_SPEC]

    def execute(self, inputs, ctx):
        from deepnodes.ml.fit import fit_xgboost

        c = self.config
        params = c.model_dump(exclude={"target_column", "feature_columns", "task", "seed", "early_stopping_rounds"})
        ctx.progress(None, "training XGBoost")
        model, importance = fit_xgboost(inputs[0], c.target_column, c.feature_columns, c.task, params, c.seed,
                                        validation=inputs[1], early_stopping_rounds=c.early_stopping_rounds,
                                        log=ctx.log)
        ctx.result("trees", int(model.estimator.get_booster().num_boosted_rounds()))
        return [model, importance]


@node("deepnodes.ml.XGBoostPredictor", name="XGBoost Predictor", category="Machine Learning/XGBoost")
class XGBoostPredictor(Node):
    """Applies an XGBoost model: appends the prediction (and, for classifiers, optionally one probability
    column per class) to the table."""

    inputs = [In("model", "model", "an XGBoost model"), In("table", "table", "the rows to predict")]
    outputs = [Out("table", "table", "the input with the prediction appended")]

    class Config(PredictorConfig):
        pass

    def configure(self, specs):
        return [predictor_spec(specs[0], specs[1], "xgboost", "XGBoost Predictor", self.config.prediction_column,
                               self.config.append_probabilities)]

    def execute(self, inputs, ctx):
        from deepnodes.ml.fit import predict

        return [predict(inputs[0], inputs[1], self.config.prediction_column, self.config.append_probabilities)]
