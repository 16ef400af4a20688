"""scikit-learn Learner and Predictor over a curated list of estimators."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from deepnodes.core import In, Node, Out, limits, node

from ._common import PredictorConfig, TargetConfig, learner_model_spec, predictor_spec

Algorithm = Literal["random_forest", "logistic_regression", "ridge", "gradient_boosting", "svm", "knn"]


@node("deepnodes.ml.SklearnLearner", name="scikit-learn Learner", category="Machine Learning/scikit-learn")
class SklearnLearner(Node):
    """Trains a scikit-learn estimator: random forest, logistic regression (classification), ridge
    (regression), gradient boosting, SVM or k-nearest neighbours, on number and tensor columns.

    The main options of each algorithm are options here; any other parameter of the estimator can be
    given in 'params' (checked against the estimator's parameters). With 'standardize' on, features are
    scaled to zero mean and unit variance first (what SVM, k-NN and logistic regression need)."""

    inputs = [In("table", "table", "the training rows")]
    outputs = [Out("model", "model", "the trained scikit-learn model")]

    class Config(TargetConfig):
        algorithm: Algorithm = Field("random_forest", description="the estimator")
        n_estimators: int = Field(100, ge=1, le=limits.EPOCHS, description="trees (random forest, gradient boosting)")
        max_depth: int = Field(0, ge=0, le=limits.SIZE, description="maximum tree depth, 0 = the estimator's default")
        learning_rate: float = Field(0.1, gt=0, description="shrinkage (gradient boosting)")
        C: float = Field(1.0, gt=0, description="inverse regularisation strength (logistic regression, SVM)")
        kernel: Literal["rbf", "linear", "poly", "sigmoid"] = Field("rbf", description="SVM kernel")
        n_neighbors: int = Field(5, ge=1, le=limits.ROWS, description="neighbours (k-NN)")
        alpha: float = Field(1.0, ge=0, description="L2 strength (ridge)")
        max_iter: int = Field(1000, ge=1, le=limits.EPOCHS, description="iterations (logistic regression)")
        standardize: bool = Field(True, description="scale features to zero mean and unit variance first")
        params: dict[str, Any] = Field(default_factory=dict, description="more estimator parameters by name")
        seed: int = Field(0, le=limits.SEED, description="random seed")

    def estimator_params(self) -> dict:
        c = self.config
        main: dict[str, dict] = {
            "random_forest": {"n_estimators": c.n_estimators, **({"max_depth": c.max_depth} if c.max_depth else {})},
            "gradient_boosting": {"n_estimators": c.n_estimators, "learning_rate": c.learning_rate,
                                  **({"max_depth": c.max_depth} if c.max_depth else {})},
            "logistic_regression": {"C": c.C, "max_iter": c.max_iter},
            "ridge": {"alpha": c.alpha},
            "svm": {"C": c.C, "kernel": c.kernel},
            "knn": {"n_neighbors": c.n_neighbors},
        }
        return {**main[c.algorithm], **c.params}

    def configure(self, specs):
        if specs[0] is None:
            return [None]
        c = self.config
        spec = learner_model_spec("sklearn", c.algorithm, specs[0], c.target_column, c.feature_columns, c.task)
        from deepnodes.ml.fit import SKLEARN_ALGORITHMS

        task = spec.info["task"]
        if SKLEARN_ALGORITHMS[c.algorithm][0 if task == "classification" else 1] is None:
            other = "ridge" if c.algorithm == "logistic_regression" else "logistic_regression"
            raise ValueError(f"option 'algorithm' '{c.algorithm}' does not do {task}; use '{other}' instead")
        return [spec]

    def execute(self, inputs, ctx):
        from deepnodes.ml.fit import fit_sklearn

        c = self.config
        ctx.progress(None, f"training {c.algorithm}")
        return [fit_sklearn(inputs[0], c.target_column, c.algorithm, c.feature_columns, c.task,
                            self.estimator_params(), c.seed, c.standardize)]


@node("deepnodes.ml.SklearnPredictor", name="scikit-learn Predictor", category="Machine Learning/scikit-learn")
class SklearnPredictor(Node):
    """Applies a scikit-learn model: appends the prediction (and, for classifiers, optionally one
    probability column per class) to the table."""

    inputs = [In("model", "model", "a scikit-learn model"), In("table", "table", "the rows to predict")]
    outputs = [Out("table", "table", "the input with the prediction appended")]

    class Config(PredictorConfig):
        pass

    def configure(self, specs):
        return [predictor_spec(specs[0], specs[1], "sklearn", "scikit-learn Predictor",
                               self.config.prediction_column, self.config.append_probabilities)]

    def execute(self, inputs, ctx):
        from deepnodes.ml.fit import predict

        return [predict(inputs[0], inputs[1], self.config.prediction_column, self.config.append_probabilities)]
