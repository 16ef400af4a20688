"""H2O Predictor: applies an H2O model in its session, or from its MOJO when no session holds it."""
from __future__ import annotations

from deepnodes.core import In, Node, NodeError, Out, node
from deepnodes.nodes.ml._common import PredictorConfig


@node("deepnodes.h2o.Predictor", name="H2O Predictor", category="Machine Learning/H2O")
class H2OPredictor(Node):
    """Applies an H2O model (from the H2O Learner, H2O AutoML or the Model Reader): appends the predicted
    class (with H2O's threshold for two classes) or value, and optionally one probability column per class.

    While the H2O session that trained the model runs, H2O scores the rows there; otherwise the model's MOJO
    scores them with Java alone (no cluster is started), with the same result. A category the model never
    saw in training is an error naming the column and the category."""

    inputs = [In("model", "model", "an H2O model"), In("table", "table", "the rows to predict")]
    outputs = [Out("table", "table", "the input with the prediction appended")]

    class Config(PredictorConfig):
        pass

    def configure(self, specs):
        from deepnodes.nodes.ml._common import PREDICTOR_OF, prediction_columns

        model, table = specs
        if model is None or table is None:
            return [None]
        if getattr(model, "port_type", None) != "model":
            raise NodeError("the 'model' input needs a model from an H2O Learner, H2O AutoML or Model Reader")
        if model.model_type != "h2o":
            other = PREDICTOR_OF.get(model.model_type)
            raise NodeError(f"the H2O Predictor applies H2O models; the model on its input is a "
                            f"'{model.model_type}' model" + (f"; use the {other} node" if other else ""))
        from deepnodes.h2o.frames import check_spec
        from deepnodes.ml.features import FeatureColumn

        info = model.info or {}
        check_spec(table, [FeatureColumn.from_json(f) for f in info.get("features", [])])
        return [table.with_columns(prediction_columns(info, self.config.prediction_column,
                                                      self.config.append_probabilities))]

    def execute(self, inputs, ctx):
        from deepnodes.nodes.h2o._common import require_h2o

        require_h2o()
        from deepnodes.h2o.predict import predict
        from deepnodes.h2o.session import current

        model, table = inputs
        session = current() if model.model_id is not None else None
        out, where = predict(model, table, self.config.prediction_column, self.config.append_probabilities,
                             session=session)
        ctx.log(f"scored {table.num_rows} rows " + ("in the H2O session" if where == "session" else
                                                    "from the MOJO (no cluster)" if where == "mojo" else ""))
        return [out]
