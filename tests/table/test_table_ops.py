"""Row / column operations on real data: MNIST test slices and iris."""
import numpy as np
import pyarrow as pa
import pytest

from deepnodes.datasets import load_dataset
from deepnodes.table import ops
from deepnodes.table.arrow import ROW_ID, spec_of, to_numpy
from deepnodes.table.spec import ColumnError


@pytest.fixture
def mnist(mnist_dir):
    return load_dataset("mnist", "test", str(mnist_dir), limit=1000)


def test_filter_rows_numbers_strings_and_lists(iris):
    big = ops.filter_rows(iris, "petal_length", ">", "5")
    assert big.num_rows == int((iris.column("petal_length").to_numpy() > 5).sum()) == 42
    assert big.column(ROW_ID).to_pylist() == list(np.flatnonzero(iris.column("petal_length").to_numpy() > 5))
    assert ops.filter_rows(iris, "species", "==", "setosa").num_rows == 50
    assert ops.filter_rows(iris, "species", "==", "setosa", keep=False).num_rows == 100
    assert ops.filter_rows(iris, "species", "in", "setosa, virginica").num_rows == 100
    assert ops.filter_rows(iris, "species", "matches", "v.*").num_rows == 100
    assert ops.filter_rows(iris, "species", "matches", "vir").num_rows == 0  # the whole value must match
    assert ops.filter_rows(iris, "species", "contains", "si").num_rows == 50  # versicolor


def test_filter_rows_on_category_and_missing_values(mnist):
    sevens = ops.filter_rows(mnist, "class_name", "==", "7")
    assert sevens.num_rows == int((mnist.column("label").to_numpy() == 7).sum())
    t = pa.table({"x": pa.array([1.0, None, 3.0])})
    assert ops.filter_rows(t, "x", "is missing").num_rows == 1
    assert ops.filter_rows(t, "x", "!=", "1").column("x").to_pylist() == [3.0]  # a missing value never matches
    with pytest.raises(ValueError, match=r"^option 'value' is 'abc', which is not a number$"):
        ops.filter_rows(t, "x", ">", "abc")


def test_stratified_partition_keeps_class_shares(mnist):
    first, second = ops.partition(mnist, fraction=0.8, method="stratified", column="label", seed=3)
    assert first.num_rows == 800 and second.num_rows == 200
    ids1, ids2 = first.column(ROW_ID).to_numpy(), second.column(ROW_ID).to_numpy()
    assert not set(ids1) & set(ids2) and len(set(ids1) | set(ids2)) == 1000
    assert (np.diff(ids1) > 0).all() and (np.diff(ids2) > 0).all()  # original order kept
    all_counts = np.bincount(mnist.column("label").to_numpy(), minlength=10)
    first_counts = np.bincount(first.column("label").to_numpy(), minlength=10)
    assert np.abs(first_counts - 0.8 * all_counts).max() <= 1
    again, _ = ops.partition(mnist, fraction=0.8, method="stratified", column="label", seed=3)
    other, _ = ops.partition(mnist, fraction=0.8, method="stratified", column="label", seed=4)
    assert again.column(ROW_ID).to_pylist() == ids1.tolist()
    assert other.column(ROW_ID).to_pylist() != ids1.tolist()
    # the image rows move with their row ids
    np.testing.assert_array_equal(to_numpy(first.column("image")), to_numpy(mnist.column("image"))[ids1])


def test_random_and_top_partition_and_sampling(mnist):
    first, second = ops.partition(mnist, count=100, method="random", seed=1)
    assert first.num_rows == 100 and second.num_rows == 900
    top, rest = ops.partition(mnist, fraction=0.25, method="top")
    assert top.column(ROW_ID).to_pylist() == list(range(250))
    assert rest.column(ROW_ID).to_pylist()[0] == 250
    s = ops.sample_rows(mnist, count=30, method="stratified", column="class_name", seed=0)
    assert s.num_rows == 30 and len(set(s.column("label").to_pylist())) == 10
    assert ops.sample_rows(mnist, fraction=0.1, seed=2).num_rows == 100


def test_category_to_number_uses_category_order_and_mapping(mnist):
    out, mapping = ops.category_to_number(mnist, ["class_name"], suffix="_index")
    np.testing.assert_array_equal(out.column("class_name_index").to_numpy(), mnist.column("label").to_numpy())
    assert mapping.column("category").to_pylist() == [str(i) for i in range(10)]
    assert mapping.column("number").to_pylist() == list(range(10))
    assert spec_of(out) == ops.category_to_number_spec(spec_of(mnist), ["class_name"], "_index")[0]
    # a string column: sorted distinct values; replacing in place; reusing a mapping on other rows
    t = pa.table({"c": ["b", "a", None, "c", "a"]})
    out, m = ops.category_to_number(t, ["c"], start=1)
    assert out.column("c").to_pylist() == [2, 1, None, 3, 1]
    again, _ = ops.category_to_number(pa.table({"c": ["c", "zz"]}), ["c"], mapping=m)
    assert again.column("c").to_pylist() == [3, None]


def test_one_hot_from_category_and_integer(mnist):
    out = ops.one_hot(mnist, "class_name", output_column="target")
    x = to_numpy(out.column("target"))
    assert x.shape == (1000, 10) and x.dtype == np.float32
    np.testing.assert_array_equal(x.argmax(1), mnist.column("label").to_numpy())
    assert (x.sum(1) == 1).all()
    assert spec_of(out) == ops.one_hot_spec(spec_of(mnist), "class_name", "target")
    y = to_numpy(ops.one_hot(pa.table({"k": pa.array([0, 2, None])}), "k", num_classes=4).column("k_onehot"))
    np.testing.assert_array_equal(y, [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match="holds the class number 2, but option 'num_classes' is 2"):
        ops.one_hot(pa.table({"k": [0, 2]}), "k", num_classes=2)


def test_columns_to_tensor_and_column_filter(iris):
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    out = ops.columns_to_tensor(iris, names, "features", remove_source=True)
    assert out.column_names == [ROW_ID, "species", "features"]
    x = to_numpy(out.column("features"))
    np.testing.assert_allclose(x, np.stack([iris.column(n).to_numpy() for n in names], 1).astype(np.float32))
    assert spec_of(out) == ops.columns_to_tensor_spec(spec_of(iris), names, "features", True)
    kept = ops.filter_columns(out, [], "include", kinds=["tensor"])
    assert kept.column_names == [ROW_ID, "features"]
    assert ops.filter_columns(out, ["species"], "exclude").column_names == [ROW_ID, "features"]
    with pytest.raises(ColumnError, match=r"^the column filter leaves no column; change option 'columns'$"):
        ops.filter_columns(out, ["species", "features"], "exclude")


def test_missing_and_wrong_kind_columns_are_named(mnist):
    spec = spec_of(mnist)
    with pytest.raises(ColumnError) as e:
        ops.partition(mnist, 0.5, method="stratified", column="digit")
    assert str(e.value).startswith("column 'digit' (option 'column') is not in the input table; its columns are "
                                   "'row_id', 'image'")
    with pytest.raises(ColumnError, match=r"^column 'image' \(option 'columns'\) is a tensor column; it must be "
                                          r"category, string or boolean$"):
        ops.category_to_number_spec(spec, ["image"])
    with pytest.raises(ColumnError, match=r"^option 'columns' selects no column; choose at least one$"):
        ops.columns_to_tensor_spec(spec, [])
