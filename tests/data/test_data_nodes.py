"""Every data node on real data: configure gives the exact output specs, execute does the work."""
import os

import numpy as np
import pyarrow as pa
import pytest

from deepnodes.core import Engine, Workflow
from deepnodes.datasets import load_dataset
from deepnodes.table.arrow import ROW_ID, encode_png, spec_of, to_numpy
from deepnodes.table.files import write_table
from tests.data.data_helpers import run_node


@pytest.fixture
def mnist(mnist_dir):
    return load_dataset("mnist", "test", str(mnist_dir), limit=300)


def test_dataset_reader(mnist_dir):
    (t,), _, _ = run_node("deepnodes.data.DatasetReader",
                          {"dataset": "mnist", "split": "test", "local_folder": str(mnist_dir), "limit": 20})
    assert t.num_rows == 20 and t.column("label").to_pylist()[:3] == [7, 2, 1]
    (d,), _, _ = run_node("deepnodes.data.DatasetReader", {"dataset": "digits", "limit": 5})
    assert to_numpy(d.column("image")).shape == (5, 1, 8, 8)


def test_csv_and_parquet_readers_and_table_writer(tmp_path, iris, mnist):
    csv = tmp_path / "iris.csv"
    run_node("deepnodes.data.TableWriter", {"path": str(csv)}, [iris])
    (t,), _, _ = run_node("deepnodes.data.CSVReader", {"path": str(csv)})
    assert t.column_names == iris.column_names and t.num_rows == 150
    assert t.column("species").to_pylist() == iris.column("species").to_pylist()
    pq = tmp_path / "mnist.parquet"
    _, ctx, _ = run_node("deepnodes.data.TableWriter", {"path": str(pq)}, [mnist])
    assert ctx.scalars["rows_written"] == 300
    (back,), _, _ = run_node("deepnodes.data.ParquetReader", {"path": str(pq), "limit": 100})
    np.testing.assert_array_equal(to_numpy(back.column("image")), to_numpy(mnist.column("image"))[:100])


def test_reader_signature_follows_the_file(tmp_path, iris):
    from tests.data.data_helpers import make_node

    csv = tmp_path / "iris.csv"
    write_table(iris, csv)
    node = make_node("deepnodes.data.CSVReader", {"path": str(csv)})
    before = node.signature_extra()
    write_table(iris.slice(0, 10), csv)
    os.utime(csv, ns=(1, 2))
    assert node.signature_extra() != before and str(csv.stat().st_size) in node.signature_extra()


def test_image_folder_reader_then_image_to_tensor(tmp_path, mnist):
    x = to_numpy(mnist.column("image"))[:, 0]
    labels = mnist.column("label").to_numpy()
    for i in range(30):
        d = tmp_path / "digits" / f"digit_{labels[i]}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:03d}.png").write_bytes(encode_png(x[i]))
    (t,), _, _ = run_node("deepnodes.data.ImageFolderReader", {"path": str(tmp_path / "digits")})
    assert t.num_rows == 30 and spec_of(t).column("image").kind == "image"
    classes = sorted({f"digit_{v}" for v in labels[:30]})
    assert spec_of(t).column("class_name").categories == tuple(classes)
    (out,), _, _ = run_node("deepnodes.data.ImageToTensor", {"size": [28, 28], "mode": "grayscale", "scale": "none"}, [t])
    got = to_numpy(out.column("image"))
    for row in range(30):
        i = int(os.path.basename(t.column("path")[row].as_py())[:3])
        np.testing.assert_array_equal(got[row, 0], x[i])
        assert t.column("class_name")[row].as_py() == f"digit_{labels[i]}"


def test_image_to_tensor_on_a_uint8_tensor_column(mnist):
    (out,), _, _ = run_node("deepnodes.data.ImageToTensor", {"output_column": "x", "size": [14, 14], "mode": "rgb"},
                            [mnist])
    x = to_numpy(out.column("x"))
    assert x.shape == (300, 3, 14, 14) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert out.column("image").type == mnist.column("image").type  # the source stays


def test_row_nodes(mnist):
    (f,), _, _ = run_node("deepnodes.data.RowFilter", {"column": "label", "operator": ">=", "value": "5"}, [mnist])
    assert f.num_rows == int((mnist.column("label").to_numpy() >= 5).sum())
    (s,), _, _ = run_node("deepnodes.data.RowSampling", {"count": 50, "method": "stratified", "column": "label"}, [mnist])
    assert s.num_rows == 50
    (a, b), ctx, _ = run_node("deepnodes.data.Partitioning", {"fraction": 0.8, "method": "stratified",
                                                              "column": "class_name", "seed": 7}, [mnist])
    assert a.num_rows == 240 and b.num_rows == 60
    assert set(a.column(ROW_ID).to_pylist()).isdisjoint(b.column(ROW_ID).to_pylist())


def test_column_nodes(iris):
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    (t,), _, _ = run_node("deepnodes.data.ColumnsToTensor", {"columns": names, "remove_source": True}, [iris])
    assert to_numpy(t.column("features")).shape == (150, 4)
    (f,), _, _ = run_node("deepnodes.data.ColumnFilter", {"columns": ["species"], "mode": "exclude"}, [t])
    assert f.column_names == [ROW_ID, "features"]


def test_category_to_number_and_one_hot(iris):
    (t, mapping), _, _ = run_node("deepnodes.data.CategoryToNumber", {"columns": ["species"], "suffix": "_id"}, [iris])
    assert mapping.column("category").to_pylist() == ["setosa", "versicolor", "virginica"]
    assert np.bincount(t.column("species_id").to_numpy()).tolist() == [50, 50, 50]
    (o,), _, configured = run_node("deepnodes.data.OneHot", {"column": "species_id", "num_classes": 3}, [t])
    np.testing.assert_array_equal(to_numpy(o.column("species_id_onehot")).argmax(1), t.column("species_id").to_numpy())


def test_normalizer_and_apply_through_the_engine(tmp_path, iris):
    """Normalizer fitted on one partition and applied to the other, wired in a workflow."""
    write_table(iris, tmp_path / "iris.parquet")
    wf = Workflow("norm")
    wf.add("deepnodes.data.ParquetReader", "read", {"path": str(tmp_path / "iris.parquet")})
    wf.add("deepnodes.data.Partitioning", "part", {"fraction": 0.5, "seed": 1})
    wf.add("deepnodes.data.Normalizer", "norm", {"columns": ["petal_length", "sepal_width"], "method": "zscore"})
    wf.add("deepnodes.data.NormalizerApply", "apply", {})
    wf.add("deepnodes.data.NormalizerApply", "back", {"inverse": True})
    wf.connect("read", "table", "part", "table")
    wf.connect("part", "first", "norm", "table")
    wf.connect("norm", "model", "apply", "model")
    wf.connect("part", "second", "apply", "table")
    wf.connect("norm", "model", "back", "model")
    wf.connect("apply", "table", "back", "table")
    eng = Engine(wf)
    statuses = eng.configure()
    assert statuses["apply"].specs[0].column("petal_length").dtype == "double"
    assert eng.run().ok
    first = eng.output("part", "first")
    second = eng.output("part", "second")
    applied = eng.output("apply")
    mu, sd = first.column("petal_length").to_numpy().mean(), first.column("petal_length").to_numpy().std()
    np.testing.assert_allclose(applied.column("petal_length").to_numpy(),
                               (second.column("petal_length").to_numpy() - mu) / sd)
    np.testing.assert_allclose(eng.output("back").column("sepal_width").to_numpy(),
                               second.column("sepal_width").to_numpy())
    assert spec_of(applied) == statuses["apply"].specs[0]
    # the normalizer survives saving and reopening the results
    eng.save_results(tmp_path / "results")
    eng2 = Engine(Workflow.loads(wf.dumps()))
    assert eng2.load_results(tmp_path / "results") == 5
    assert eng2.output("norm", "model") == eng.output("norm", "model")


def test_scorer_and_numeric_scorer(iris):
    from sklearn.linear_model import LinearRegression, LogisticRegression

    x = np.stack([iris.column(c).to_numpy() for c in ["sepal_length", "sepal_width", "petal_length"]], 1)
    pred = LogisticRegression(max_iter=500).fit(x, iris.column("species").to_numpy()).predict(x)
    t = iris.append_column("prediction", pa.array(pred))
    (cm, stats, overall), ctx, _ = run_node("deepnodes.data.Scorer", {"truth_column": "species"}, [t],
                                            check_specs=False)  # the class columns come from the data
    truth = iris.column("species").to_numpy(zero_copy_only=False)
    assert ctx.scalars["accuracy"] == pytest.approx((pred == truth).mean())
    assert ctx.scalars["error_rate"] == pytest.approx(1 - ctx.scalars["accuracy"])
    assert cm.column_names == ["actual", "setosa", "versicolor", "virginica"]
    assert stats.column("support").to_pylist() == [50, 50, 50]
    assert overall.column("accuracy")[0].as_py() == ctx.scalars["accuracy"]
    pw = LinearRegression().fit(x, iris.column("petal_width").to_numpy()).predict(x)
    (scores,), ctx, _ = run_node("deepnodes.data.NumericScorer", {"truth_column": "petal_width",
                                                                  "prediction_column": "p"},
                                 [iris.append_column("p", pa.array(pw))])
    assert ctx.scalars["r2"] > 0.9 and scores.column("rmse")[0].as_py() == pytest.approx(ctx.scalars["rmse"])


def test_scorer_specs_are_exact_with_category_truth(mnist):
    from deepnodes.table.arrow import category_field, category_from_codes

    labels = mnist.column("label").to_numpy()
    pred = np.where(np.arange(len(labels)) % 7 == 0, (labels + 1) % 10, labels)
    classes = [str(i) for i in range(10)]
    t = mnist.append_column(category_field("prediction", classes), category_from_codes(pred, classes))
    (cm, _, _), ctx, _ = run_node("deepnodes.data.Scorer", {"truth_column": "class_name"}, [t])
    assert ctx.scalars["accuracy"] == pytest.approx((pred == labels).mean())
    assert np.trace(np.stack([cm.column(c).to_numpy() for c in classes], 1)) == (pred == labels).sum()
