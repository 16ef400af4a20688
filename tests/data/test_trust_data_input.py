"""Issue 17 section 6/7, data: bad files and tables end in one sentence naming the file, column or option.

CSV files of binary garbage, invalid UTF-8, a header only, duplicate header names (fixed cases and generated
byte flips / truncations of a real CSV); empty and one-row tables into every node type that takes tables; an
empty partition and a one-row table into the Network Executor; a 400-megapixel image (a limit, not a crash).
"""
import struct
import threading
import zlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepnodes.core import Engine, Workflow, registry
from deepnodes.core.node import ExecutionContext
from deepnodes.core.ports import PORT_TYPES
from deepnodes.table.files import csv_schema, read_csv, write_table
from deepnodes.table.images import MAX_IMAGE_PIXELS
from tests.core.trust_strategies import CLEAN_ERRORS, check_sentence, examples


def _reader(path) -> Engine:
    wf = Workflow("csv")
    wf.add("deepnodes.data.CSVReader", "read", {"path": str(path)})
    wf.add("deepnodes.data.RowSampling", "sample", {"fraction": 0.5})
    wf.connect("read", 0, "sample", 0)
    return Engine(wf)


CSV_CASES = {
    "binary garbage": (bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8)),
                       "CSV file 'f.csv' is binary data, not text: byte "),
    "NUL bytes": (b"\0" * 1000, "CSV file 'f.csv' is binary data, not text: byte 0 (line 1) is a NUL byte"),
    "invalid UTF-8": (b"name,x\n\xff\xfeabc,1\nok,2\n", "CSV file 'f.csv' is not UTF-8 text: byte 7 (line 2) is 0xff"),
    "Latin-1 text": ("name,x\ncafé,1\n".encode("latin-1"), "CSV file 'f.csv' is not UTF-8 text: byte 10 (line 2) is 0xe9"),
    "header only": (b"a,b,c\n", "CSV file 'f.csv' has a header but no rows"),
    "duplicate header names": (b"a,a,b\n1,2,3\n4,5,6\n", "CSV file 'f.csv' names two columns 'a' (columns 1 and 2)"),
    "empty": (b"", "CSV file 'f.csv' is empty"),
    "a ragged row": (b"a,b\n1,2\n3\n", "CSV file 'f.csv' has a ragged row at line 3: expected 2 fields, found 1"),
}


@pytest.mark.parametrize("name", list(CSV_CASES))
def test_a_bad_csv_file_is_one_sentence_on_the_reader_before_anything_runs(tmp_path, name):
    content, expected = CSV_CASES[name]
    (tmp_path / "f.csv").write_bytes(content)
    eng = _reader(tmp_path / "f.csv")
    st_ = eng.configure()["read"]
    assert st_.state == "idle" and st_.message.startswith(expected), st_.message
    check_sentence(st_.message, name)
    res = eng.run()
    assert not res.ok and eng.status["read"].message.startswith(expected)


def test_invalid_utf8_after_the_first_mib_is_found_when_the_file_is_read(tmp_path):
    p = tmp_path / "big.csv"
    rows = b"".join(b"%d,word\n" % i for i in range(200_000))  # ~1.8 MB of good rows
    p.write_bytes(b"n,w\n" + rows + b"7,caf\xe9\n")
    assert csv_schema(p).names == ["row_id", "n", "w"]  # configure looks at the first MiB only
    with pytest.raises(ValueError, match=r"^CSV file 'big.csv' is not UTF-8 text: byte \d+ \(line 200002\) is 0xe9"):
        read_csv(p)


@pytest.fixture(scope="module")
def iris_csv_bytes(tmp_path_factory):
    from sklearn.datasets import load_iris

    d = load_iris()
    t = pa.table({"sepal_length": d.data[:40, 0], "petal_width": d.data[:40, 3],
                  "species": np.array(d.target_names)[d.target[:40]]})
    p = tmp_path_factory.mktemp("iris") / "iris.csv"
    write_table(t, p)
    return p.read_bytes()


@settings(max_examples=examples(200), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_damage_to_a_real_csv_reads_or_gives_one_sentence(tmp_path_factory, iris_csv_bytes, data):
    raw = bytearray(iris_csv_bytes)
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "truncate", "insert"]))
        i = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "truncate":
            del raw[i:]
        else:
            raw[i:i] = data.draw(st.sampled_from([b",", b"\n", b'"', b"\r", b"\xff", b"\0", b",,,", b'"a""b', "é".encode()]))
    p = tmp_path_factory.mktemp("csv") / "f.csv"
    p.write_bytes(bytes(raw))
    for step in (csv_schema, read_csv):
        try:
            step(p)
        except ValueError as e:
            check_sentence(str(e), step.__name__)
            assert "'f.csv'" in str(e), str(e)


@pytest.fixture(scope="module")
def table():
    from sklearn.datasets import load_iris

    from deepnodes.table.arrow import with_row_id

    d = load_iris()
    return with_row_id(pa.table({"sepal_length": d.data[:, 0], "sepal_width": d.data[:, 1],
                                 "species": np.array(d.target_names)[d.target]}))


def _table_nodes():
    for type_id, cls in registry.all_nodes().items():
        if type_id.startswith("deepnodes.") and cls.inputs and all(p.type == "table" for p in cls.inputs):
            yield type_id


def _config(cls, column: str) -> dict:
    cfg = {}
    for name in cls.Config.model_fields:
        if name == "column" or name.endswith("_column"):
            cfg[name] = column
        elif name.endswith("columns"):
            cfg[name] = [column]
    try:
        cls.Config.model_validate(cfg)
        return cfg
    except ValueError:
        return {}


@pytest.mark.parametrize("rows", [0, 1])
def test_empty_and_one_row_tables_into_every_table_node_end_in_output_or_one_sentence(table, rows):
    """Every node type that takes only tables, on 0 and 1 rows, with its column options on a string and on a
    number column: it works, or raises a user error whose message is one sentence naming what is wrong."""
    problems, tried = [], 0
    for type_id in _table_nodes():
        cls = registry.get(type_id)
        for column in ("species", "sepal_length"):
            node = cls(cls.Config.model_validate(_config(cls, column)))
            inputs = [table.slice(0, rows) for _ in cls.inputs]
            specs = [PORT_TYPES["table"].io.spec_of(t) for t in inputs]
            tried += 1
            try:
                node.configure(specs)
                node.execute(inputs, ExecutionContext("n", lambda e: None, threading.Event()))
            except Exception as e:  # noqa: BLE001 - classify it
                msg, kind = str(e), type(e).__name__
                # a library's own ValueError ("Expected a non-empty ndarray") names nothing of the user's
                names_something = any(w in msg for w in ("'", "option", "column", "table", "row"))
                if kind not in CLEAN_ERRORS or not names_something or "\n" in msg:
                    problems.append(f"{type_id} ({column}, {rows} rows): {kind}: {msg[:200]}")
    assert tried > 30
    assert problems == []


def _learner_workflow(exec_rows: int) -> Workflow:
    wf = Workflow("executor")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits", "limit": 60})
    wf.add("deepnodes.data.Partitioning", "part", {"method": "top", "count": exec_rows})
    wf.connect("digits", 0, "part", 0)
    wf.add("deepnodes.layers.Input", "input", {"shape": [1, 8, 8]})
    wf.add("deepnodes.layers.Flatten", "flat")
    wf.connect("input", 0, "flat", 0)
    wf.add("deepnodes.layers.Dense", "out", {"units": 10, "activation": "softmax"})
    wf.connect("flat", 0, "out", 0)
    wf.add("deepnodes.dl.NetworkLearner", "learn", {"epochs": 1, "inputs": [{"columns": ["image"]}],
                                                   "targets": [{"columns": ["label"]}]})
    wf.connect("out", 0, "learn", "network")
    wf.connect("digits", 0, "learn", "table")
    wf.add("deepnodes.dl.NetworkExecutor", "exec")
    wf.connect("learn", 0, "exec", "network")
    wf.connect("part", "first", "exec", "table")
    return wf


def test_an_empty_partition_into_the_executor_is_one_sentence_and_one_row_works():
    eng = Engine(_learner_workflow(0))
    res = eng.run()
    assert res.failed == ["exec"]
    assert eng.status["exec"].message == "the input table is empty; this node needs at least one row"
    eng = Engine(_learner_workflow(1))
    assert eng.run().ok
    out = eng.status["exec"].outputs[0]
    assert out.num_rows == 1 and "prediction" in out.column_names


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width × height pixels but holds almost nothing: what a decompression bomb looks like."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("width,height,expected", [
    (20_000, 20_000, "column 'image' (option 'column') holds an image of 400 megapixels in row 1, over the limit "
                     "of 100 megapixels"),
    (12_000, 10_000, "column 'image' (option 'column') holds an image of 12000×10000 pixels (120 megapixels) in "
                     "row 1, over the limit of 100 megapixels"),
])
@pytest.mark.parametrize("type_id", ["deepnodes.data.ImageToTensor", "deepnodes.dl.PretrainedImagePreprocess"])
def test_a_huge_image_is_a_limit_with_one_sentence_not_a_crash(tmp_path, type_id, width, height, expected):
    from deepnodes.table.arrow import encode_png

    assert width * height > MAX_IMAGE_PIXELS
    small = encode_png(np.zeros((8, 8), np.uint8))
    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    (folder / "0.png").write_bytes(small)
    (folder / "1.png").write_bytes(_png_header(width, height))
    wf = Workflow("huge")
    wf.add("deepnodes.data.ImageFolderReader", "read", {"path": str(tmp_path / "images")})
    wf.add(type_id, "prep", {"size": [8, 8]})
    wf.connect("read", 0, "prep", "table")
    eng = Engine(wf)
    res = eng.run()
    assert res.failed == ["prep"], {k: (s.state, s.message) for k, s in eng.status.items()}
    assert eng.status["prep"].message == expected


def test_a_data_node_after_a_python_script_runs_though_its_input_columns_are_unknown_before():
    """A Python Script's output spec is known only once it ran: the node after it is configured (with the reason
    shown), configured again on the real columns, and runs; a real column error still fails it with a sentence."""
    wf = Workflow("after a script")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits", "limit": 20})
    wf.add("deepnodes.python.PythonScript", "script", {})
    wf.add("deepnodes.data.CategoryToNumber", "codes", {"columns": ["class_name"]})
    wf.add("deepnodes.data.CategoryToNumber", "typo", {"columns": ["clas_name"]})
    wf.connect("digits", 0, "script", 0)
    wf.connect("script", 0, "codes", 0)
    wf.connect("script", 0, "typo", 0)
    eng = Engine(wf)
    st_ = eng.configure()
    assert (st_["codes"].state, st_["codes"].message) == ("configured", "checked when 'script' has run (what it gives "
                                                                        "is not known before)")
    res = eng.run()
    assert "codes" in res.executed and res.failed == [] and eng.status["codes"].message == ""
    assert eng.status["typo"].state == "idle"
    assert eng.status["typo"].message.startswith("column 'clas_name' (option 'columns') is not in the input table")


def test_a_long_value_echoed_in_a_node_message_is_cut_to_200_characters(tmp_path):
    (tmp_path / "f.csv").write_text("a,b\n1,2\n")
    wf = Workflow("long")
    wf.add("deepnodes.data.CSVReader", "read", {"path": str(tmp_path / "f.csv")})
    wf.add("deepnodes.data.RowFilter", "filter", {"column": "c" * 5000, "value": "1"})
    wf.connect("read", 0, "filter", 0)
    msg = Engine(wf).configure()["filter"].message
    assert msg.startswith("column '" + "c" * 200 + "…' (option 'column') is not in the input table"), msg[:300]
    assert len(msg) < 400


@pytest.fixture(scope="module")
def parquet_bytes(tmp_path_factory):
    p = tmp_path_factory.mktemp("pq") / "t.parquet"
    write_table(pa.table({"a": np.arange(100), "b": ["x", "y"] * 50}), p)
    return p.read_bytes()


@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_damage_to_a_parquet_file_reads_or_gives_one_sentence(tmp_path_factory, parquet_bytes, data):
    from deepnodes.table.files import parquet_schema, read_parquet

    raw = bytearray(parquet_bytes)
    if data.draw(st.booleans()):
        del raw[data.draw(st.integers(0, len(raw) - 1)):]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    p = tmp_path_factory.mktemp("pq") / "d.parquet"
    p.write_bytes(bytes(raw))
    for step in (parquet_schema, read_parquet):
        try:
            step(p)
        except ValueError as e:
            check_sentence(str(e), step.__name__)
            assert str(e).startswith("Parquet file 'd.parquet' could not be read"), str(e)
