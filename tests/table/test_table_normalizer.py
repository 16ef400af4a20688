"""The fitted Normalizer on iris and MNIST: min-max, z-score, apply to new rows, inverse, JSON save/load."""
import json

import numpy as np
import pyarrow as pa
import pytest
from sklearn.datasets import load_iris

from deepnodes.core.model import MODEL_IO
from deepnodes.table.arrow import spec_of, to_numpy
from deepnodes.table.normalizer import Normalizer, fitted_spec
from deepnodes.table.ops import partition
from deepnodes.table.spec import ColumnError

COLS = ["sepal_length", "petal_length", "petal_count"]


@pytest.fixture
def iris():
    d = load_iris()
    return pa.table({"sepal_length": d.data[:, 0], "petal_length": d.data[:, 2],
                     "petal_count": pa.array((d.data[:, 3] * 10).astype(np.int64)), "target": d.target})


def test_minmax_and_zscore(iris):
    mm = Normalizer.fit(iris, COLS, "minmax", -1, 1)
    out = mm.apply(iris)
    for c in COLS:
        x = out.column(c).to_numpy()
        assert x.min() == pytest.approx(-1) and x.max() == pytest.approx(1)
    assert spec_of(out) == fitted_spec(spec_of(iris), COLS, "minmax")[0]
    z = Normalizer.fit(iris, COLS, "zscore").apply(iris)
    for c in COLS:
        x = z.column(c).to_numpy()
        assert x.mean() == pytest.approx(0, abs=1e-12) and x.std() == pytest.approx(1)
    assert out.column("target").to_pylist() == iris.column("target").to_pylist()


def test_fitted_on_one_partition_applied_to_the_other_and_inverse(iris):
    a, b = partition(iris, 0.5, method="random", seed=0)
    norm = Normalizer.fit(a, COLS, "zscore")
    mean, std = a.column("sepal_length").to_numpy().mean(), a.column("sepal_length").to_numpy().std()
    np.testing.assert_allclose(norm.apply(b).column("sepal_length").to_numpy(),
                               (b.column("sepal_length").to_numpy() - mean) / std)
    back = norm.apply(norm.apply(b), inverse=True)
    np.testing.assert_allclose(back.column("petal_count").to_numpy(), b.column("petal_count").to_numpy())


def test_save_load_json_through_the_model_port(tmp_path, iris):
    norm = Normalizer.fit(iris, COLS, "minmax")
    name = MODEL_IO.save(norm, str(tmp_path / "norm"))
    saved = json.loads((tmp_path / name / "normalizer.json").read_text())
    assert saved["method"] == "minmax" and set(saved["columns"]) == set(COLS)
    again = MODEL_IO.load(str(tmp_path / name))
    assert isinstance(again, Normalizer) and again == norm
    assert again.apply(iris).equals(norm.apply(iris))


def test_tensor_column_is_scaled_as_a_whole(mnist_dir):
    from deepnodes.datasets import load_dataset

    t = load_dataset("mnist", "test", str(mnist_dir), limit=100)
    out = Normalizer.fit(t, ["image"], "minmax").apply(t)
    x = to_numpy(out.column("image"))
    assert x.dtype == np.float32 and x.shape == (100, 1, 28, 28)
    np.testing.assert_allclose(x, to_numpy(t.column("image")) / 255.0, atol=1e-6)
    assert spec_of(out) == fitted_spec(spec_of(t), ["image"], "minmax")[0]


def test_bad_columns_and_empty_table(iris):
    with pytest.raises(ColumnError, match=r"^column 'species' \(option 'columns'\) is not in the input table"):
        Normalizer.fit(iris, ["species"])
    with pytest.raises(ColumnError, match=r"^the input table is empty; the normalizer needs at least one row to fit$"):
        Normalizer.fit(iris.slice(0, 0), COLS)
    norm = Normalizer.fit(iris, COLS)
    with pytest.raises(ColumnError, match=r"^column 'petal_count' \(option 'normalizer columns'\) is not in the input"):
        norm.apply(iris.drop_columns(["petal_count"]))
