"""H2O AutoML: trains and ranks many H2O models within a budget; the leader and the leaderboard."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeError, Out, limits, node
from deepnodes.nodes.ml._common import TargetConfig

from ._common import SessionConfig, check_session_options, model_spec, open_session

AutoAlgo = Literal["DRF", "GLM", "XGBoost", "GBM", "DeepLearning", "StackedEnsemble"]
SortMetric = Literal["AUTO", "logloss", "AUC", "AUCPR", "mean_per_class_error", "RMSE", "MSE", "MAE", "RMSLE",
                     "deviance"]


@node("deepnodes.h2o.AutoML", name="H2O AutoML", category="Machine Learning/H2O")
class H2OAutoMLNode(Node):
    """Runs H2O AutoML: GBMs, random forests, GLMs, XGBoost, deep learning and stacked ensembles, each
    cross-validated, ranked on a leaderboard. Stops after 'max_models' models or 'max_runtime_secs' seconds
    (whichever comes first; 0 = no limit of that kind). The first output is the leader, the second the
    leaderboard (one row per model, best first, with its metrics, training time and algorithm).
    Runs in the run's H2O session, like the H2O Learner."""

    inputs = [In("table", "table", "the training rows")]
    outputs = [Out("model", "model", "the best model (the leader)"),
               Out("leaderboard", "table", "every model AutoML trained, best first")]

    class Config(SessionConfig, TargetConfig):
        max_models: int = Field(10, ge=0, le=10_000, description="stop after this many models (0 = no limit)")
        max_runtime_secs: int = Field(120, ge=0, le=int(limits.SECONDS), description="stop after this many seconds "
                                        "(0 = no limit)")
        exclude_algos: list[AutoAlgo] = Field(default_factory=list, description="algorithms AutoML leaves out")
        sort_metric: SortMetric = Field("AUTO", description="the leaderboard's order; AUTO = AUC for two classes, "
                                        "mean per-class error for more, deviance for numbers")
        nfolds: int = Field(5, ge=0, le=100, description="cross-validation folds (0 = a validation split instead)")
        seed: int = Field(0, ge=-1, le=limits.SEED, description="random seed")

    def configure(self, specs):
        c = self.config
        check_session_options(c)
        if not c.max_models and not c.max_runtime_secs:
            raise NodeError("options 'max_models' and 'max_runtime_secs' are both 0; give AutoML a limit")
        if c.nfolds == 1:
            raise NodeError("option 'nfolds' is 1; use 0 or 2 or more folds")
        if specs[0] is None:
            return [None, None]
        return [model_spec("automl", specs[0], c.target_column, c.feature_columns, c.task), None]

    def execute(self, inputs, ctx):
        from deepnodes.h2o.learners import automl

        c = self.config
        session = open_session(c, ctx)
        limit = f"{c.max_models or 'any number of'} models, {c.max_runtime_secs:g} s" if c.max_runtime_secs else \
            f"{c.max_models} models"
        ctx.progress(None, f"H2O AutoML ({limit}) in {session.url}")
        model, board = automl(session, inputs[0], c.target_column, c.feature_columns, c.task, c.max_models,
                              c.max_runtime_secs, c.exclude_algos, c.sort_metric, c.seed, c.nfolds, log=ctx.log,
                              cancelled=lambda: ctx.cancelled)
        ctx.result("models", board.num_rows)
        ctx.result("leader", model.algorithm)
        return [model, board]
