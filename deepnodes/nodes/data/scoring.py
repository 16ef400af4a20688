"""Scorer nodes: class predictions (accuracy, Cohen's kappa, confusion matrix) and numeric predictions."""
from __future__ import annotations

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, Out, node


@node("deepnodes.data.Scorer", name="Scorer", category="Data/Scoring")
class Scorer(Node):
    """Compares predicted classes with the true ones: accuracy, error rate and Cohen's kappa (shown as
    results), a confusion matrix, per-class precision / recall / F1, and an overall table."""
    inputs = [In("table", "table", "a table with a truth and a prediction column")]
    outputs = [Out("confusion_matrix", "table", "one row per actual class, one column per predicted class"),
               Out("class_statistics", "table", "TP, FP, TN, FN, precision, recall, F1 and support per class"),
               Out("overall", "table", "accuracy, error rate, Cohen's kappa and averages, one row")]

    class Config(NodeConfig):
        truth_column: str = Field("label", description="the column with the true classes")
        prediction_column: str = Field("prediction", description="the column with the predicted classes")

    def configure(self, specs):
        from deepnodes.table.scoring import score_classes_spec

        if specs[0] is None:  # an upstream whose columns are known only after it runs (a Python script)
            return [None] * len(self.outputs)
        return list(score_classes_spec(specs[0], self.config.truth_column, self.config.prediction_column))

    def execute(self, inputs, ctx):
        from deepnodes.table.scoring import score_classes

        s = score_classes(inputs[0], self.config.truth_column, self.config.prediction_column)
        ctx.result("accuracy", s.accuracy)
        ctx.result("error_rate", s.error_rate)
        ctx.result("cohen_kappa", s.cohen_kappa)
        return [s.confusion_table, s.class_table, s.overall_table]


@node("deepnodes.data.NumericScorer", name="Numeric Scorer", category="Data/Scoring")
class NumericScorer(Node):
    """Compares numeric predictions with the truth: R², mean absolute error, (root) mean squared error."""
    inputs = [In("table", "table", "a table with a truth and a prediction column")]
    outputs = [Out("scores", "table", "r2, mae, mse, rmse, mean signed difference, one row")]

    class Config(NodeConfig):
        truth_column: str = Field("", description="the column with the true values")
        prediction_column: str = Field("", description="the column with the predicted values")

    def configure(self, specs):
        from deepnodes.table.scoring import score_numbers_spec

        if specs[0] is None:  # an upstream whose columns are known only after it runs (a Python script)
            return [None]
        return [score_numbers_spec(specs[0], self.config.truth_column, self.config.prediction_column)]

    def execute(self, inputs, ctx):
        from deepnodes.table.scoring import numbers_table, score_numbers

        s = score_numbers(inputs[0], self.config.truth_column, self.config.prediction_column)
        for k in ("r2", "mae", "rmse"):
            ctx.result(k, s[k])
        return [numbers_table(s)]
