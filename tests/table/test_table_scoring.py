"""Scoring: class metrics against hand-counted values and scikit-learn, numeric metrics against numpy."""
import numpy as np
import pyarrow as pa
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import cohen_kappa_score

from deepnodes.table.arrow import category_field, category_from_codes
from deepnodes.table.scoring import numbers_table, score_classes, score_numbers
from deepnodes.table.spec import ColumnError


def test_small_example_counted_by_hand():
    t = pa.table({"truth": ["cat", "cat", "dog", "dog", "dog", "bird"],
                  "pred": ["cat", "dog", "dog", "dog", "cat", "bird"]})
    s = score_classes(t, "truth", "pred")
    assert s.labels == ["bird", "cat", "dog"]
    assert s.accuracy == pytest.approx(4 / 6) and s.error_rate == pytest.approx(2 / 6)
    assert s.confusion_table.to_pydict() == {"actual": ["bird", "cat", "dog"], "bird": [1, 0, 0], "cat": [0, 1, 1],
                                             "dog": [0, 1, 2]}
    row = {k: v[2] for k, v in s.class_table.to_pydict().items()}  # dog
    assert (row["true_positives"], row["false_positives"], row["false_negatives"], row["true_negatives"]) == (2, 1, 1, 2)
    assert row["precision"] == pytest.approx(2 / 3) and row["recall"] == pytest.approx(2 / 3)
    # kappa: p_o = 4/6, p_e = (1*1 + 2*2 + 3*3)/36
    assert s.cohen_kappa == pytest.approx((4 / 6 - 14 / 36) / (1 - 14 / 36))


def test_real_classifier_on_digits_with_category_truth():
    d = load_digits()
    clf = LogisticRegression(max_iter=200).fit(d.data[:1000], d.target[:1000])
    pred = clf.predict(d.data[1000:])
    truth = d.target[1000:]
    classes = [str(i) for i in range(10)]
    t = pa.Table.from_arrays([category_from_codes(truth, classes), pa.array(pred)],
                             schema=pa.schema([category_field("label", classes), pa.field("prediction", pa.int64())]))
    s = score_classes(t, "label", "prediction")
    assert s.labels == classes
    assert s.accuracy == pytest.approx((pred == truth).mean())
    assert s.cohen_kappa == pytest.approx(cohen_kappa_score(truth, pred))
    assert s.confusion.sum() == len(truth) and np.trace(s.confusion) == (pred == truth).sum()
    assert s.overall_table.column("correct")[0].as_py() == int((pred == truth).sum())


def test_missing_rows_are_ignored_and_counted():
    t = pa.table({"y": ["a", None, "b", "a"], "p": ["a", "b", None, "b"]})
    s = score_classes(t, "y", "p")
    assert s.accuracy == 0.5 and s.overall_table.column("rows_ignored")[0].as_py() == 2


def test_numeric_scorer_matches_formulas():
    d = load_digits()
    y = d.data[:, 20]
    p = Ridge().fit(d.data[:, :20], y).predict(d.data[:, :20])
    s = score_numbers(pa.table({"y": y, "p": p}), "y", "p")
    assert s["mae"] == pytest.approx(np.abs(p - y).mean())
    assert s["rmse"] == pytest.approx(np.sqrt(((p - y) ** 2).mean()))
    assert s["r2"] == pytest.approx(1 - ((p - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    assert numbers_table(s).num_rows == 1


def test_bad_input_sentences():
    t = pa.table({"y": ["a"], "p": ["a"]})
    with pytest.raises(ColumnError, match=r"^the input table is empty; this node needs at least one row$"):
        score_classes(t.slice(0, 0), "y", "p")
    with pytest.raises(ColumnError, match=r"^column 'pred' \(option 'prediction_column'\) is not in the input table"):
        score_classes(t, "y", "pred")
    with pytest.raises(ColumnError, match=r"^column 'y' \(option 'truth_column'\) is a string column; it must be number"):
        score_numbers(t, "y", "p")
