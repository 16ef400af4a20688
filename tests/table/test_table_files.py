"""CSV / Parquet reading and writing on real data (iris, MNIST slices)."""
import numpy as np
import pyarrow as pa
import pytest
from sklearn.datasets import load_iris

from deepnodes.table.arrow import ROW_ID, spec_of, to_numpy
from deepnodes.table.files import csv_schema, parquet_schema, read_csv, read_parquet, write_table
from deepnodes.table.spec import ColumnError


@pytest.fixture
def iris_table():
    d = load_iris()
    cols = {n.replace(" (cm)", "").replace(" ", "_"): d.data[:, i] for i, n in enumerate(d.feature_names)}
    cols["species"] = np.array(d.target_names)[d.target]
    return pa.table(cols)


def test_csv_round_trip_adds_row_id_and_keeps_values(tmp_path, iris_table):
    p = write_table(iris_table, tmp_path / "iris.csv")
    assert p.read_text().splitlines()[0].replace('"', '') == "sepal_length,sepal_width,petal_length,petal_width,species"
    t = read_csv(p)
    assert t.column_names == [ROW_ID] + iris_table.column_names
    assert t.column(ROW_ID).to_pylist() == list(range(150))
    np.testing.assert_allclose(to_numpy(t.column("petal_width")), iris_table.column("petal_width").to_numpy())
    assert t.column("species").to_pylist() == iris_table.column("species").to_pylist()
    # the configure-time schema is the schema of the full read
    assert spec_of(csv_schema(p)) == spec_of(t)
    assert read_csv(p, limit=7).num_rows == 7


def test_csv_options_delimiter_and_no_header(tmp_path):
    p = tmp_path / "semi.csv"
    p.write_text("1;x\n2;y\n3;z\n")
    t = read_csv(p, delimiter=";", has_header=False)
    assert t.column_names == [ROW_ID, "f0", "f1"]
    assert t.column("f1").to_pylist() == ["x", "y", "z"]


def test_ragged_csv_row_names_file_and_line(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n")
    with pytest.raises(ValueError) as e:
        read_csv(p)
    assert str(e.value) == "CSV file 'ragged.csv' has a ragged row at line 4: expected 3 fields, found 2"


def test_ragged_csv_row_line_counts_skipped_lines(tmp_path):
    p = tmp_path / "skipped.csv"
    p.write_text("# exported\na,b\n1,2\n3,4,5\n")
    with pytest.raises(ValueError, match=r"^CSV file 'skipped.csv' has a ragged row at line 4: expected 2 fields, found 3$"):
        read_csv(p, skip_rows=1)


def test_empty_and_missing_csv(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"^CSV file 'empty.csv' is empty$"):
        read_csv(tmp_path / "empty.csv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")


def test_parquet_round_trip_keeps_tensor_and_category_columns(tmp_path, mnist_dir):
    from deepnodes.datasets import load_dataset

    t = load_dataset("mnist", "test", str(mnist_dir), limit=50)
    p = write_table(t, tmp_path / "mnist.parquet", include_row_id=True)
    assert spec_of(parquet_schema(p)) == spec_of(t)
    back = read_parquet(p)
    assert spec_of(back) == spec_of(t)
    np.testing.assert_array_equal(to_numpy(back.column("image")), to_numpy(t.column("image")))
    assert back.column("class_name").to_pylist() == t.column("class_name").to_pylist()
    part = read_parquet(p, limit=20)
    assert part.num_rows == 20 and part.column("label").to_pylist() == t.column("label").to_pylist()[:20]


def test_csv_writer_refuses_tensor_columns(tmp_path, mnist_dir):
    from deepnodes.datasets import load_dataset

    t = load_dataset("mnist", "test", str(mnist_dir), limit=3)
    with pytest.raises(ColumnError) as e:
        write_table(t, tmp_path / "x.csv")
    assert str(e.value) == ("column 'image' is a tensor column, which a CSV file cannot hold; "
                            "write Parquet or filter the column out first")
    assert not (tmp_path / "x.csv").exists()
    # category columns are written as their text
    out = write_table(t.select(["label", "class_name"]), tmp_path / "y.csv")
    assert out.read_text().splitlines()[1] == "7,\"7\""
