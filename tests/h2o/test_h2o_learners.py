"""H2O learners, AutoML and the predictor against a real H2O on 127.0.0.1 (one session for the module)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from deepnodes.h2o.learners import automl, train
from deepnodes.h2o.predict import predict
from deepnodes.h2o.session import H2OError
from deepnodes.table import ColumnError

from .h2o_helpers import accuracy, split


def test_gbm_on_a_tensor_column_scores_the_same_in_the_session_and_from_the_mojo(session, cancer):
    tr, te = split(cancer)
    model, scores = train(session, tr, "gbm", "label", params={"ntrees": 30, "max_depth": 3}, seed=1)
    assert model.task == "classification" and model.class_names == ["0", "1"] and len(model.feature_names) == 30
    assert model.mojo[:2] == b"PK" and scores["train_auc"] > 0.95
    live, where = predict(model, te, probabilities=True, session=session)
    mojo, where2 = predict(model, te, probabilities=True, session=None)
    assert (where, where2) == ("session", "mojo")
    assert accuracy(live, "label") > 0.9
    # an integer target gives integer predictions, the same both ways; probabilities agree and sum to one
    assert live.schema.field("Prediction (label)").type == pa.int64()
    assert live.column("Prediction (label)").equals(mojo.column("Prediction (label)"))
    p_live = np.stack([live.column(f"P (label={c})").to_numpy() for c in "01"], 1)
    p_mojo = np.stack([mojo.column(f"P (label={c})").to_numpy() for c in "01"], 1)
    np.testing.assert_allclose(p_live, p_mojo, atol=1e-6)
    np.testing.assert_allclose(p_live.sum(1), 1, atol=1e-6)


@pytest.mark.parametrize("algorithm,params", [
    ("drf", {"ntrees": 20}), ("glm", {}), ("deeplearning", {"hidden": [16], "epochs": 20, "reproducible": True})])
def test_each_algorithm_learns_numbers_and_a_category_column(session, flowers, algorithm, params):
    tr, te = split(flowers, seed=2)
    model, _ = train(session, tr, algorithm, "species", params=params, seed=3, nfolds=0)
    assert model.domains == {"sepal": ["medium", "narrow", "wide"]}
    out, _ = predict(model, te, session=session)
    assert accuracy(out, "species") > 0.85
    assert out.column("Prediction (species)").type == pa.dictionary(pa.int32(), pa.string())


def test_regression_and_cross_validation(session, flowers):
    model, scores = train(session, flowers, "gbm", "petal_length", params={"ntrees": 20}, seed=1, nfolds=3)
    assert model.task == "regression" and set(scores) >= {"cv_rmse", "cv_r2"} and scores["cv_r2"] > 0.9
    out, _ = predict(model, flowers, prediction_column="guess")
    err = np.abs(out.column("guess").to_numpy() - flowers.column("petal_length").to_numpy())
    assert err.mean() < 0.3


def test_automl_gives_a_leader_and_a_leaderboard(session, cancer):
    tr, te = split(cancer, seed=4)
    leader, board = automl(session, tr, "label", max_models=2, max_runtime_secs=60, nfolds=2, seed=1,
                           exclude_algos=["DeepLearning", "StackedEnsemble", "XGBoost"])
    assert board.num_rows >= 1 and {"model_id", "algo", "auc"} <= set(board.column_names)
    assert board.column("model_id")[0].as_py().lower().startswith(leader.algorithm)
    out, _ = predict(leader, te)  # from the MOJO
    assert accuracy(out, "label") > 0.9


def test_bad_targets_and_inputs_are_one_sentence(session, flowers):
    one = flowers.filter(pa.compute.equal(flowers.column("species").cast(pa.string()), "setosa"))
    with pytest.raises(ColumnError, match="only one class \\('setosa'\\)"):
        train(session, one, "gbm", "species")
    with pytest.raises(ColumnError, match="'nope' \\(option 'target_column'\\) is not in the input table"):
        train(session, flowers, "gbm", "nope")
    with pytest.raises(ValueError, match="'ridge' is not one of gbm"):
        train(session, flowers, "ridge", "species")
    with pytest.raises(H2OError, match="H2O refused|Unknown parameter|refused the options"):
        train(session, flowers, "gbm", "species", params={"ntrees": -5})
    with pytest.raises(ValueError, match="'exclude_algos' names 'SVM'"):
        automl(session, flowers, "species", exclude_algos=["SVM"])


def test_a_category_unseen_in_training_is_refused_naming_it(session, flowers):
    model, _ = train(session, flowers, "glm", "species", seed=1)
    from deepnodes.table.arrow import category_array

    odd = flowers.set_column(3, "sepal", category_array(["narrow"] * 149 + ["huge"]))
    for s in (session, None):
        with pytest.raises(ColumnError, match="column 'sepal' holds the category 'huge' \\(1 row\\), which the "
                                              "model was not trained on"):
            predict(model, odd, session=s)
    wrong = flowers.set_column(0, "sepal_length", flowers.column("sepal").cast(pa.string()))
    with pytest.raises(ColumnError, match="'sepal_length' must be a number column"):
        predict(model, wrong)


def test_automl_with_no_model_in_its_time_is_one_sentence(session, cancer):
    # deep learning alone, ten folds of 40 copies of the rows: no model can finish within one second, however
    # quiet the machine (on 569 rows and five folds a quiet machine finished one)
    big = pa.concat_tables([cancer] * 40)
    with pytest.raises(H2OError, match="finished no model within max_runtime_secs 1"):
        automl(session, big, "label", max_runtime_secs=1, nfolds=10, seed=1,
               exclude_algos=["GLM", "DRF", "GBM", "XGBoost", "StackedEnsemble"])


def test_the_automl_and_learner_nodes_configure_what_they_execute(session, flowers):
    from deepnodes.core import NodeError
    from deepnodes.nodes.h2o.automl import H2OAutoMLNode
    from deepnodes.nodes.h2o.learner import H2OLearner
    from deepnodes.nodes.h2o.predictor import H2OPredictor
    from deepnodes.table.arrow import spec_of

    from .h2o_helpers import ctx

    spec = spec_of(flowers)
    node = H2OAutoMLNode({"target_column": "species", "max_models": 1, "max_runtime_secs": 30, "nfolds": 2,
                          "exclude_algos": ["DRF", "GBM", "XGBoost", "DeepLearning", "StackedEnsemble"]})
    mspec, _ = node.configure([spec])
    leader, board = node.execute([flowers], ctx())
    assert mspec.model_type == "h2o" and mspec.info["task"] == "classification" and leader.algorithm == "glm"
    assert board.num_rows == 1 and board.column("algo").to_pylist() == ["GLM"]
    out_spec = H2OPredictor({"append_probabilities": True}).configure([leader.spec(), spec])[0]
    out = H2OPredictor({"append_probabilities": True}).execute([leader, flowers], ctx())[0]
    assert spec_of(out).names == out_spec.names and accuracy(out, "species") > 0.9
    with pytest.raises(NodeError, match="'max_models' and 'max_runtime_secs' are both 0"):
        H2OAutoMLNode({"target_column": "species", "max_models": 0, "max_runtime_secs": 0}).configure([spec])
    with pytest.raises(NodeError, match="option 'nfolds' is 1"):
        H2OLearner({"target_column": "species", "nfolds": 1}).configure([spec])
    with pytest.raises(ValueError, match="option 'max_mem_size' 'much' is not a memory size"):
        H2OLearner({"target_column": "species", "max_mem_size": "much"}).configure([spec])
    # the learner passes only its algorithm's options, and H2O's default where an option is empty
    assert H2OLearner({"algorithm": "drf", "ntrees": 7, "learn_rate": 0.5}).h2o_params() == {"ntrees": 7}
    with pytest.raises(NodeError, match="use the H2O Predictor node"):
        from deepnodes.nodes.ml.xgboost_nodes import XGBoostPredictor

        XGBoostPredictor().configure([leader.spec(), spec])


def test_a_cancelled_run_cancels_the_h2o_jobs(session, cancer):
    from deepnodes.core import Cancelled

    with pytest.raises(Cancelled):  # without the cancel, AutoML would run its 120 s
        automl(session, cancer, "label", max_runtime_secs=120, nfolds=2, seed=1, cancelled=lambda: True)
    with pytest.raises(Cancelled):
        train(session, cancer, "deeplearning", "label", params={"epochs": 500, "hidden": [64, 64]},
              cancelled=lambda: True)
