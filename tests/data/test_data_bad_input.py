"""Issue 2 "Bad input" for the data nodes: a missing column, a wrong kind, an empty selection, an empty
table and a ragged CSV row each give one sentence naming the option, column or line, shown on the node."""
import numpy as np
import pyarrow as pa
import pytest

from deepnodes.core import Engine, Workflow
from deepnodes.table.arrow import spec_of
from deepnodes.table.files import write_table
from tests.data.data_helpers import configure_error


@pytest.fixture
def digits_parquet(tmp_path):
    from deepnodes.datasets import load_dataset

    p = tmp_path / "digits.parquet"
    write_table(load_dataset("digits", limit=60), p, include_row_id=True)
    return p


def _engine(path, *chain):
    wf = Workflow("bad")
    wf.add("deepnodes.data.ParquetReader", "read", {"path": str(path)})
    prev = "read"
    for i, (type_id, config) in enumerate(chain):
        nid = f"n{i}"
        wf.add(type_id, nid, config)
        wf.connect(prev, 0, nid, "table")
        prev = nid
    return Engine(wf)


def test_missing_column_is_shown_on_the_node_before_anything_runs(digits_parquet):
    eng = _engine(digits_parquet, ("deepnodes.data.Partitioning", {"method": "stratified", "column": "digit"}))
    st = eng.configure()["n0"]
    assert st.state == "idle"
    assert st.message == ("column 'digit' (option 'column') is not in the input table; its columns are 'row_id', "
                          "'image', 'label', 'class_name'")
    res = eng.run()
    assert not res.ok and "read" in res.executed


@pytest.mark.parametrize("type_id,config,message", [
    ("deepnodes.data.RowFilter", {"column": "lable", "value": "1"},
     "column 'lable' (option 'column') is not in the input table; its columns are 'row_id', 'image', 'label', 'class_name'"),
    ("deepnodes.data.CategoryToNumber", {"columns": ["image"]},
     "column 'image' (option 'columns') is a tensor column; it must be category, string or boolean"),
    ("deepnodes.data.CategoryToNumber", {"columns": []}, "option 'columns' selects no column; choose at least one"),
    ("deepnodes.data.OneHot", {"column": ""}, "no column is selected; set option 'column'"),
    ("deepnodes.data.ColumnsToTensor", {"columns": ["label", "class_name"]},
     "column 'class_name' (option 'columns') is a category column; it must be number, integer or boolean"),
    ("deepnodes.data.Normalizer", {"columns": ["class_name"]},
     "column 'class_name' (option 'columns') is a category column; it must be number, integer or tensor"),
    ("deepnodes.data.ImageToTensor", {"column": "label"},
     "column 'label' (option 'column') is an integer column; it must be image or tensor"),
    ("deepnodes.data.Scorer", {"truth_column": "label", "prediction_column": "predicted"},
     "column 'predicted' (option 'prediction_column') is not in the input table; its columns are 'row_id', 'image', "
     "'label', 'class_name'"),
    ("deepnodes.data.ColumnFilter", {"columns": ["row_id", "image", "label", "class_name"], "mode": "exclude"},
     "the column filter leaves no column; change option 'columns'"),
    ("deepnodes.data.TableWriter", {"path": "/tmp/x.csv"},
     "column 'image' is a tensor column, which a CSV file cannot hold; set option 'format' to parquet or filter "
     "the column out"),
    ("deepnodes.data.RowFilter", {"column": "label", "operator": ">", "value": "seven"},
     "option 'value' is 'seven', which is not a number"),
])
def test_configure_errors_are_one_sentence(digits_parquet, type_id, config, message):
    from deepnodes.table.files import read_parquet

    spec = spec_of(read_parquet(digits_parquet, limit=1))
    assert configure_error(type_id, config, [spec]) == message


def test_empty_table_fails_the_node_and_keeps_other_results(digits_parquet):
    eng = _engine(digits_parquet, ("deepnodes.data.RowFilter", {"column": "label", "operator": ">", "value": "100"}),
                  ("deepnodes.data.Partitioning", {"fraction": 0.5}))
    res = eng.run()
    assert res.failed == ["n1"]
    assert eng.status["n1"].message == "the input table is empty; this node needs at least one row"
    assert eng.status["n0"].state == "executed" and eng.output("n0").num_rows == 0
    eng2 = _engine(digits_parquet, ("deepnodes.data.RowFilter", {"column": "label", "operator": "<", "value": "0"}),
                   ("deepnodes.data.Scorer", {"truth_column": "label", "prediction_column": "label"}))
    eng2.run()
    assert eng2.status["n1"].message == "the input table is empty; this node needs at least one row"


def test_ragged_csv_row_names_the_file_and_line_on_the_reader(tmp_path):
    p = tmp_path / "measurements.csv"
    p.write_text("id,height,weight\n1,1.80,75\n2,1.65\n3,1.72,68\n")
    wf = Workflow("ragged")
    wf.add("deepnodes.data.CSVReader", "csv", {"path": str(p)})
    eng = Engine(wf)
    st = eng.configure()["csv"]
    assert st.message == "CSV file 'measurements.csv' has a ragged row at line 3: expected 3 fields, found 2"
    # a ragged row after the first block is found when the file is read
    rows = "\n".join(f"{i},1.{i % 100:02d},{i % 90}" for i in range(200_000))
    p.write_text("id,height,weight\n" + rows + "\n7,8\n")
    eng.reset()
    assert eng.configure()["csv"].state == "configured"
    res = eng.run()
    assert res.failed == ["csv"]
    assert eng.status["csv"].message == ("CSV file 'measurements.csv' has a ragged row at line 200002: expected 3 "
                                         "fields, found 2")


def test_missing_files_and_folders(tmp_path):
    assert configure_error("deepnodes.data.CSVReader", {"path": str(tmp_path / "none.csv")}, []) == \
        f"the CSV file '{tmp_path / 'none.csv'}' does not exist"
    assert configure_error("deepnodes.data.CSVReader", {}, []) == "no CSV file is set; set option 'path'"
    assert configure_error("deepnodes.data.ImageFolderReader", {"path": str(tmp_path)}, []) == \
        (f"the image folder '{tmp_path}' (option 'path') has no subfolders; put each class's images in a subfolder "
         "named after the class")
    assert configure_error("deepnodes.data.DatasetReader", {"dataset": "mnist", "split": "validation"}, []) == \
        "dataset 'mnist' has no split 'validation' (option 'split'); its splits are train, test or all"
