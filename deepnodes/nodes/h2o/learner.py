"""H2O Learner: GBM, Random Forest (DRF), GLM or Deep Learning trained in the run's H2O session."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from deepnodes.core import In, Node, Out, limits, node
from deepnodes.core.ui import ui

from deepnodes.nodes.ml._common import TargetConfig

from ._common import SessionConfig, check_session_options, model_spec, open_session, put_scores

Algorithm = Literal["gbm", "drf", "glm", "deeplearning"]
TREES = {"algorithm": ["gbm", "drf"]}


def _on(*algorithms: str) -> dict:
    return ui(group="Algorithm", show_if={"algorithm": list(algorithms)})


#: the options each algorithm takes (None values are left to H2O's default for that algorithm)
OPTIONS = {"gbm": ("ntrees", "max_depth", "min_rows", "sample_rate", "col_sample_rate", "learn_rate"),
           "drf": ("ntrees", "max_depth", "min_rows", "sample_rate", "mtries"),
           "glm": ("family", "alpha", "lambda_", "standardize"),
           "deeplearning": ("hidden", "epochs", "activation", "l1", "l2", "input_dropout_ratio", "standardize",
                            "reproducible")}


@node("deepnodes.h2o.Learner", name="H2O Learner", category="Machine Learning/H2O")
class H2OLearner(Node):
    """Trains an H2O model (GBM, Random Forest/DRF, GLM or Deep Learning) on number, category and tensor columns.

    The first H2O node of a run starts a local H2O on 127.0.0.1 (about 9 s) or connects to 'cluster_url';
    the other H2O nodes of the run reuse that session, and it stops when the run ends. Options carry H2O's
    names; an empty one keeps H2O's default for the algorithm, and 'params' passes any other H2O parameter.
    With 'nfolds' of 2 or more H2O cross-validates and the results are cross-validated metrics.
    A tensor column (e.g. pretrained features) becomes one number column per element."""

    inputs = [In("table", "table", "the training rows")]
    outputs = [Out("model", "model", "the trained H2O model (scores in the session, or from its MOJO)")]

    class Config(SessionConfig, TargetConfig):
        algorithm: Algorithm = Field("gbm", description="gbm, drf (random forest), glm or deeplearning")
        ntrees: int | None = Field(None, ge=1, le=limits.EPOCHS, description="number of trees",
                                   json_schema_extra=_on("gbm", "drf"))
        max_depth: int | None = Field(None, ge=0, le=64, description="maximum tree depth (0 = no limit)",
                                      json_schema_extra=_on("gbm", "drf"))
        min_rows: float | None = Field(None, ge=1, description="fewest rows in a leaf",
                                       json_schema_extra=_on("gbm", "drf"))
        sample_rate: float | None = Field(None, gt=0, le=1, description="share of rows sampled per tree",
                                          json_schema_extra=_on("gbm", "drf"))
        col_sample_rate: float | None = Field(None, gt=0, le=1, description="share of columns sampled per split",
                                              json_schema_extra=_on("gbm"))
        learn_rate: float | None = Field(None, gt=0, le=1, description="shrinkage of each tree",
                                         json_schema_extra=_on("gbm"))
        mtries: int | None = Field(None, ge=-2, le=limits.SIZE, description="columns tried per split (-1 = H2O's "
                                   "rule: square root of the columns for classification)", json_schema_extra=_on("drf"))
        family: Literal["AUTO", "gaussian", "binomial", "multinomial", "poisson", "gamma", "tweedie"] = Field(
            "AUTO", description="GLM distribution; AUTO = binomial or multinomial for classes, gaussian for numbers",
            json_schema_extra=_on("glm"))
        alpha: float | None = Field(None, ge=0, le=1, description="elastic-net mix: 0 = ridge, 1 = lasso",
                                    json_schema_extra=_on("glm"))
        lambda_: float | None = Field(None, ge=0, description="regularisation strength (empty = H2O's search)",
                                      json_schema_extra=_on("glm"))
        hidden: list[limits.Width] | None = Field(None, max_length=64, description="hidden layer sizes, e.g. [200, 200]",
                                         json_schema_extra=_on("deeplearning"))
        epochs: float | None = Field(None, gt=0, le=limits.EPOCHS, description="passes over the data",
                                     json_schema_extra=_on("deeplearning"))
        activation: Literal["Rectifier", "Tanh", "Maxout", "RectifierWithDropout", "TanhWithDropout",
                            "MaxoutWithDropout"] | None = Field(None, description="activation of the hidden layers",
                                                                json_schema_extra=_on("deeplearning"))
        l1: float | None = Field(None, ge=0, description="L1 penalty on weights", json_schema_extra=_on("deeplearning"))
        l2: float | None = Field(None, ge=0, description="L2 penalty on weights", json_schema_extra=_on("deeplearning"))
        input_dropout_ratio: float | None = Field(None, ge=0, lt=1, description="dropout on the inputs",
                                                  json_schema_extra=_on("deeplearning"))
        standardize: bool = Field(True, description="standardise number columns first",
                                  json_schema_extra=_on("glm", "deeplearning"))
        reproducible: bool = Field(True, description="the same result for the same seed (Deep Learning then uses "
                                   "one thread)", json_schema_extra=_on("deeplearning"))
        params: dict[str, Any] = Field(default_factory=dict, description="more H2O parameters by their H2O name",
                                       json_schema_extra=ui(group="Algorithm"))
        seed: int = Field(0, ge=-1, le=limits.SEED, description="random seed")
        nfolds: int = Field(0, ge=0, le=100, description="folds of H2O's own cross-validation (0 = none, or 2+)")

    def h2o_params(self) -> dict:
        c = self.config
        out = {}
        for name in OPTIONS[c.algorithm]:
            v = getattr(c, name)
            if v is not None and not (name == "family" and v == "AUTO"):
                out[name] = v
        return {**out, **c.params}

    def configure(self, specs):
        from deepnodes.core import NodeError

        c = self.config
        check_session_options(c)
        if c.nfolds == 1:
            raise NodeError("option 'nfolds' is 1; use 0 for no cross-validation or 2 or more folds")
        if specs[0] is None:
            return [None]
        return [model_spec(c.algorithm, specs[0], c.target_column, c.feature_columns, c.task)]

    def execute(self, inputs, ctx):
        from deepnodes.h2o.learners import train

        c = self.config
        session = open_session(c, ctx)
        ctx.progress(None, f"training H2O {c.algorithm} in {session.url}")
        model, scores = train(session, inputs[0], c.algorithm, c.target_column, c.feature_columns, c.task,
                              self.h2o_params(), c.seed, c.nfolds, log=ctx.log,
                              cancelled=lambda: ctx.cancelled)
        put_scores(ctx, scores)
        return [model]
