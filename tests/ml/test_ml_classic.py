"""XGBoost and scikit-learn learners / predictors on real (small) data sets shipped with scikit-learn."""
from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from deepnodes.core import ExecutionContext, NodeError
from deepnodes.ml.fit import fit_sklearn, fit_xgboost, predict
from deepnodes.ml.model import read_file, write_file
from deepnodes.table import ColumnError
from deepnodes.table.arrow import spec_of, tensor_array


def _split(table: pa.Table, seed: int = 0, test: float = 0.3) -> tuple[pa.Table, pa.Table]:
    idx = np.random.default_rng(seed).permutation(table.num_rows)
    k = int(table.num_rows * (1 - test))
    return table.take(pa.array(np.sort(idx[:k]))), table.take(pa.array(np.sort(idx[k:])))


@pytest.fixture(scope="module")
def iris() -> pa.Table:
    d = load_iris()
    cols = {n.replace(" (cm)", "").replace(" ", "_"): d.data[:, i] for i, n in enumerate(d.feature_names)}
    return pa.table({**cols, "species": pa.array(np.array(d.target_names)[d.target])})


@pytest.fixture(scope="module")
def cancer() -> pa.Table:
    d = load_breast_cancer()
    return pa.table({"x": tensor_array(d.data.astype(np.float32)), "label": pa.array(d.target.astype(np.int64))})


def _accuracy(out: pa.Table, target: str) -> float:
    pred = out.column(f"Prediction ({target})").to_pandas().astype(str).to_numpy()
    return float((pred == out.column(target).to_pandas().astype(str).to_numpy()).mean())


def _ctx(lines: list | None = None) -> ExecutionContext:
    return ExecutionContext("n", lambda ev: lines.append(ev) if lines is not None else None, threading.Event())


# --------------------------------------------------------------------------- XGBoost
def test_xgboost_classifies_a_tensor_column_and_ranks_features(cancer):
    train, test = _split(cancer)
    model, imp = fit_xgboost(train, "label", params={"n_estimators": 50, "max_depth": 3, "n_jobs": 1}, seed=1)
    out = predict(model, test, probabilities=True)
    assert _accuracy(out, "label") > 0.93
    # integer targets give integer predictions; probabilities sum to one
    assert out.schema.field("Prediction (label)").type == pa.int64()
    p = np.stack([out.column("P (label=0)").to_numpy(), out.column("P (label=1)").to_numpy()], 1)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    assert imp.num_rows == 30 and imp.column_names[:2] == ["feature", "importance"]
    gains = imp.column("gain").to_numpy()
    assert (np.diff(gains) <= 0).all() and gains[0] > 0
    assert abs(imp.column("importance").to_numpy().sum() - 1) < 1e-6
    assert imp.column("feature")[0].as_py().startswith("x[")


def test_xgboost_regression_beats_the_mean():
    d = load_diabetes()
    t = pa.table({**{f"f{i}": d.data[:, i] for i in range(10)}, "y": d.target})
    train, test = _split(t)
    model, _ = fit_xgboost(train, "y", params={"n_estimators": 60, "max_depth": 2, "learning_rate": 0.1, "n_jobs": 1})
    assert model.task == "regression"
    out = predict(model, test)
    y, pred = test.column("y").to_numpy(), out.column("Prediction (y)").to_numpy()
    r2 = 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert r2 > 0.3


def test_xgboost_json_file_round_trip_is_plain_xgboost(iris, tmp_path):
    import json

    import xgboost as xgb

    model, _ = fit_xgboost(iris, "species", params={"n_estimators": 10, "n_jobs": 1})
    path = write_file(model, tmp_path / "iris.json")
    json.loads(path.read_text())  # XGBoost's JSON format
    booster = xgb.Booster()
    booster.load_model(str(path))  # plain xgboost reads it
    assert booster.num_boosted_rounds() == 10
    again = read_file(path)
    assert again.class_names == ["setosa", "versicolor", "virginica"] and again.target == "species"
    a, b = predict(model, iris, probabilities=True), predict(again, iris, probabilities=True)
    np.testing.assert_allclose(a.column("P (species=virginica)").to_numpy(), b.column("P (species=virginica)").to_numpy())


def test_xgboost_early_stopping_uses_the_validation_table(cancer):
    train, val = _split(cancer)
    lines: list[str] = []
    model, _ = fit_xgboost(train, "label", params={"n_estimators": 500, "learning_rate": 0.3, "n_jobs": 1}, validation=val,
                           early_stopping_rounds=5, log=lines.append)
    assert model.estimator.get_booster().num_boosted_rounds() < 500
    assert any("validation logloss" in s for s in lines)


# --------------------------------------------------------------------------- scikit-learn
@pytest.mark.parametrize("algorithm", ["random_forest", "logistic_regression", "gradient_boosting", "svm", "knn"])
def test_sklearn_curated_classifiers_learn_iris_and_survive_skops(iris, algorithm, tmp_path):
    train, test = _split(iris, seed=3)
    params = {"n_estimators": 30} if algorithm in ("random_forest", "gradient_boosting") else {}
    model = fit_sklearn(train, "species", algorithm, params=params)
    out = predict(model, test)
    assert _accuracy(out, "species") > 0.88
    assert out.schema.field("Prediction (species)").metadata[b"deepnodes.kind"] == b"category"
    again = read_file(write_file(model, tmp_path / "m.skops"))
    assert again.algorithm == algorithm
    assert predict(again, test).column("Prediction (species)").to_pylist() == out.column("Prediction (species)").to_pylist()


@pytest.mark.parametrize("algorithm", ["random_forest", "ridge", "svm", "knn"])
def test_sklearn_regressors(algorithm):
    d = load_diabetes()
    t = pa.table({"x": tensor_array(d.data.astype(np.float32)), "y": d.target})
    train, test = _split(t)
    params = {"random_forest": {"n_estimators": 40}, "svm": {"C": 100.0}}.get(algorithm, {})
    model = fit_sklearn(train, "y", algorithm, params=params)
    y, pred = test.column("y").to_numpy(), predict(model, test).column("Prediction (y)").to_numpy()
    assert 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum() > 0.15


def test_pickle_needs_the_explicit_trust_option(iris, tmp_path):
    model = fit_sklearn(iris, "species", "knn")
    path = write_file(model, tmp_path / "m.pkl", "pickle")
    with pytest.raises(ValueError, match="trust_pickle"):
        read_file(path)
    assert read_file(path, trust_pickle=True).algorithm == "knn"


def test_skops_file_with_untrusted_types_is_refused(tmp_path):
    import json

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "evil.skops"
    sio.dump({"deepnodes": json.dumps({}), "estimator": FunctionTransformer(json.loads)}, str(path))
    with pytest.raises(ValueError, match="does not trust .*trusted_types"):
        read_file(path)


def test_a_non_model_file_is_a_clear_error(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"not": "a model"')
    with pytest.raises(ValueError, match="not a readable XGBoost model file"):
        read_file(p)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_file(tmp_path / "missing.skops")


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_give_one_sentence_errors(iris, cancer):
    with pytest.raises(ColumnError, match="column 'kind' \\(option 'target_column'\\) is not in the input table"):
        fit_xgboost(iris, "kind")
    t = iris.append_column("note", pa.array(["x"] * iris.num_rows))
    with pytest.raises(ColumnError, match="'note' \\(option 'feature_columns'\\) is a string column"):
        fit_sklearn(t, "species", "knn", feature_columns=["note"])
    with pytest.raises(ColumnError, match="regression needs a number column"):
        fit_xgboost(iris, "species", task="regression")
    with pytest.raises(ValueError, match="'logistic_regression' does not do regression; use 'ridge'"):
        fit_sklearn(load_diabetes_table(), "y", "logistic_regression")
    with pytest.raises(ValueError, match="'trees' \\(option 'params'\\) is not a parameter of RandomForestClassifier"):
        fit_sklearn(iris, "species", "random_forest", params={"trees": 3})
    with pytest.raises(ValueError, match="early_stopping_rounds' needs a validation table"):
        fit_xgboost(iris, "species", early_stopping_rounds=3)
    one = iris.filter(pa.compute.equal(iris.column("species"), "setosa"))
    with pytest.raises(ColumnError, match="has only one class"):
        fit_xgboost(one, "species")
    model, _ = fit_xgboost(cancer, "label", params={"n_estimators": 3})
    wrong = pa.table({"x": tensor_array(np.zeros((4, 10), np.float32))})
    with pytest.raises(ColumnError, match="must be a tensor column of shape \\(30,\\)"):
        predict(model, wrong)
    nan = iris.set_column(0, "sepal_length", pa.array([np.nan] + [1.0] * (iris.num_rows - 1)))
    with pytest.raises(ColumnError, match="1 rows with missing or infinite feature values"):
        fit_sklearn(nan, "species", "svm")


def load_diabetes_table() -> pa.Table:
    d = load_diabetes()
    return pa.table({"a": d.data[:, 0], "y": d.target})


# --------------------------------------------------------------------------- nodes
def test_nodes_configure_what_they_execute(iris, tmp_path):
    from deepnodes.nodes.ml.model_files import ModelReader, ModelWriter
    from deepnodes.nodes.ml.sklearn_nodes import SklearnLearner, SklearnPredictor
    from deepnodes.nodes.ml.xgboost_nodes import XGBoostLearner, XGBoostPredictor

    spec = spec_of(iris)
    learner = XGBoostLearner({"target_column": "species", "n_estimators": 5})
    mspec, ispec = learner.configure([spec, None])
    model, imp = learner.execute([iris, None], _ctx())
    assert mspec.info["task"] == "classification" and mspec.model_type == "xgboost"
    assert spec_of(imp).names == ispec.names
    pred = XGBoostPredictor({"append_probabilities": True})
    out_spec = pred.configure([mspec, spec])[0]
    out = pred.execute([model, iris], _ctx())[0]
    # a string target's classes are known only after training: the probability columns follow then
    assert spec_of(out).names[:len(out_spec.names)] == out_spec.names
    assert spec_of(out).names[-1] == "P (species=virginica)"
    # a scikit-learn model on the XGBoost Predictor is refused at configure time, naming the right node
    sk = SklearnLearner({"target_column": "species", "algorithm": "svm"})
    skspec = sk.configure([spec])[0]
    with pytest.raises(NodeError, match="use the scikit-learn Predictor node"):
        XGBoostPredictor().configure([skspec, spec])
    skmodel = sk.execute([iris], _ctx())[0]
    assert _accuracy(SklearnPredictor().execute([skmodel, iris], _ctx())[0], "species") > 0.9
    with pytest.raises(ValueError, match="'logistic_regression' does not do regression"):
        SklearnLearner({"target_column": "sepal_length", "algorithm": "logistic_regression"}).configure([spec])
    # writer / reader
    path = tmp_path / "sk.skops"
    ModelWriter({"path": str(path)}).execute([skmodel], _ctx())
    back = ModelReader({"path": str(path)}).execute([], _ctx())[0]
    assert back.algorithm == "svm"
    with pytest.raises(NodeError, match="does not exist"):
        ModelReader({"path": str(tmp_path / "nope.json")}).configure([])


def test_model_port_save_and_load_through_the_engine_handler(iris, tmp_path):
    from deepnodes.core.model import MODEL_IO

    for model in (fit_xgboost(iris, "species", params={"n_estimators": 4})[0], fit_sklearn(iris, "species", "knn")):
        name = MODEL_IO.save(model, str(tmp_path / model.library))
        back = MODEL_IO.load(str(tmp_path / name))
        assert back.library == model.library and back.class_names == model.class_names
        assert predict(back, iris).column(-1).to_pylist() == predict(model, iris).column(-1).to_pylist()
