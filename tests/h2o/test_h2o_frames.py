"""The table → H2O conversion and the file reader, property-based (no cluster needed: pure Arrow / zip work)."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepnodes.h2o.frames import check_categories, flat_table, resolve_columns
from deepnodes.h2o.model import H2OModel, read_file, write_file
from deepnodes.ml.features import FeatureColumn
from deepnodes.table import ColumnError
from deepnodes.table.arrow import category_array, spec_of, tensor_array

LEVELS = ["a", "b", "c", "d"]


@st.composite
def tables(draw):
    n = draw(st.integers(1, 30))
    shape = draw(st.sampled_from([(1,), (3,), (2, 2)]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    floats = rng.normal(size=(n, *shape)).astype(np.float32)
    cols = {"t": tensor_array(floats), "num": pa.array(rng.normal(size=n)),
            "ints": pa.array(rng.integers(-5, 5, n)), "flag": pa.array(rng.random(n) > 0.5),
            "cat": category_array(list(rng.choice(LEVELS, n))), "text": pa.array(list(rng.choice(LEVELS, n))),
            "y": pa.array(list(rng.choice(["yes", "no"], n)))}
    return pa.table(cols), floats


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_every_column_kind_becomes_its_h2o_columns_with_the_same_values(data):
    table, floats = data
    feats = resolve_columns(spec_of(table), [], "y")
    assert [f.kind for f in feats] == ["tensor", "number", "number", "number", "category", "category"]
    flat = flat_table(table, feats, "y", target_enum=True)
    width = int(np.prod(floats.shape[1:]))
    assert flat.column_names[:width] == [f"t[{i}]" for i in range(width)]
    got = np.stack([flat.column(i).to_numpy() for i in range(width)], 1)
    np.testing.assert_array_equal(got, floats.reshape(len(floats), -1).astype(np.float64))
    assert flat.column("flag").to_pylist() == [float(v) for v in table.column("flag").to_pylist()]
    assert flat.column("cat").to_pylist() == table.column("cat").to_pylist()
    assert flat.column("text").type == pa.string() and flat.column_names[-1] == "y"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(LEVELS + ["zz", "new level"]), min_size=1, max_size=40),
       st.lists(st.sampled_from(LEVELS), min_size=1, max_size=4, unique=True))
def test_a_category_outside_the_training_levels_is_named_and_counted(values, domain):
    table = pa.table({"cat": category_array(values)})
    feats = [FeatureColumn("cat", "category")]
    unseen = [v for v in values if v not in domain]
    if not unseen:
        check_categories(table, feats, {"cat": domain})
        return
    rows = f"{len(unseen)} row" + ("s" if len(unseen) != 1 else "")
    with pytest.raises(ColumnError, match=f"holds the category '{unseen[0]}' \\({rows}\\)"):
        check_categories(table, feats, {"cat": domain})


def test_feature_choices_are_checked():
    spec = spec_of(pa.table({"img": pa.array([b"x"], pa.binary()), "y": ["a"], "n": [1.0]}))
    with pytest.raises(ColumnError, match="'img' \\(option 'feature_columns'\\) is a other column"):
        resolve_columns(spec, ["img"], "y")
    with pytest.raises(ColumnError, match="'y' is both the target and a feature"):
        resolve_columns(spec, ["y"], "y")
    assert [f.name for f in resolve_columns(spec, [], "y")] == ["n"]


def _mojo_like() -> bytes:
    """A small zip shaped like a MOJO (model.ini, a domain file): enough for the reader's checks."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.ini", "[info]\nalgo = gbm\ncategory = Binomial\nsupervised = true\n\n[columns]\n"
                                "x\ncolour\ny\n\n[domains]\n1: 2 d000.txt\n2: 2 d001.txt\n")
        z.writestr("domains/d000.txt", "red\nblue\n")
        z.writestr("domains/d001.txt", "no\nyes\n")
        z.writestr("trees/t00_000.bin", bytes(range(256)) * 8)
    return buf.getvalue()


def test_a_plain_mojo_reads_its_layout_from_model_ini(tmp_path):
    p = tmp_path / "plain.zip"
    p.write_bytes(_mojo_like())
    m = read_file(p)
    assert (m.algorithm, m.task, m.target, m.class_names) == ("gbm", "classification", "y", ["no", "yes"])
    assert [(f.name, f.kind) for f in m.features] == [("x", "number"), ("colour", "category")]
    assert m.domains == {"colour": ["red", "blue"]}
    # written back with DeepNodes' metadata inside, it reads the same
    back = read_file(write_file(m, tmp_path / "again.zip"))
    assert back.meta() == m.meta() and zipfile.ZipFile(tmp_path / "again.zip").read("model.ini")


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_truncated_or_flipped_model_files_load_or_fail_with_one_sentence(tmp_path_factory, data):
    m = H2OModel("gbm", "classification", "y", "category", ["no", "yes"], [FeatureColumn("x", "number")], {},
                 _mojo_like())
    d = tmp_path_factory.mktemp("fuzz")
    good = write_file(m, d / "m.zip").read_bytes()
    bad = bytearray(good)
    if data.draw(st.booleans()):
        bad = bad[: data.draw(st.integers(0, len(good) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(bad) - 1))
            bad[i] ^= data.draw(st.integers(1, 255))
    (d / "bad.zip").write_bytes(bytes(bad))
    try:
        back = read_file(d / "bad.zip")
    except ValueError as e:
        assert "'bad.zip'" in str(e) and "\n" not in str(e)
    else:
        assert isinstance(back, H2OModel)
