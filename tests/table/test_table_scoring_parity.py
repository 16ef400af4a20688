"""The Scorer's numpy metrics equal scikit-learn's on random label and number vectors (hypothesis), edge cases
included: classes never predicted or never true, a single class, constant truths, perfect predictions."""
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st
from sklearn import metrics as skm

from deepnodes.table.scoring import score_classes, score_numbers

LABELS = ["a", "b", "c", "d"]
pairs = st.integers(1, 40).flatmap(lambda n: st.tuples(st.lists(st.sampled_from(LABELS), min_size=n, max_size=n),
                                                        st.lists(st.sampled_from(LABELS), min_size=n, max_size=n)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@settings(max_examples=150, deadline=None)
@given(pairs)
def test_class_metrics_equal_scikit_learn(yp):
    y, p = yp
    s = score_classes(pa.table({"truth": y, "pred": p}), "truth", "pred")
    labels = s.labels
    assert labels == sorted(set(y) | set(p))
    np.testing.assert_array_equal(s.confusion, skm.confusion_matrix(y, p, labels=labels))
    assert s.accuracy == pytest.approx(skm.accuracy_score(y, p))
    with np.errstate(all="ignore"):
        want_kappa = skm.cohen_kappa_score(y, p, labels=labels)
    if np.isnan(want_kappa):  # chance disagreement 0: the Scorer says 1 for a perfect score, else 0
        want_kappa = 1.0 if s.accuracy == 1.0 else 0.0
    assert s.cohen_kappa == pytest.approx(want_kappa, abs=1e-12)
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    ct = s.class_table.to_pydict()
    np.testing.assert_allclose(ct["precision"], prec, atol=1e-12)
    np.testing.assert_allclose(ct["recall"], rec, atol=1e-12)
    np.testing.assert_allclose(ct["f1"], f1, atol=1e-12)
    assert ct["support"] == list(sup)
    overall = s.overall_table.to_pydict()
    assert overall["macro_f1"][0] == pytest.approx(skm.f1_score(y, p, labels=labels, average="macro", zero_division=0))
    assert overall["weighted_f1"][0] == pytest.approx(
        skm.f1_score(y, p, labels=labels, average="weighted", zero_division=0))


floats = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(st.lists(floats, min_size=n, max_size=n),
                                                       st.lists(floats, min_size=n, max_size=n))),
       st.booleans())
def test_number_metrics_equal_scikit_learn(yp, constant):
    y, p = (np.array(v, dtype=np.float64) for v in yp)
    if constant:  # a constant truth, predicted exactly half the time
        y = np.full_like(y, y[0])
        p = np.where(np.arange(len(p)) % 2 == 0, y, p)
    r = score_numbers(pa.table({"truth": y, "pred": p}), "truth", "pred")
    assert r["mse"] == pytest.approx(skm.mean_squared_error(y, p), rel=1e-9, abs=1e-9)
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-9, abs=1e-9)
    if len(y) < 2:
        assert np.isnan(r["r2"])
    else:
        assert r["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-6, abs=1e-9)


def test_scoring_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = ("import sys, pyarrow as pa; from deepnodes.table.scoring import score_classes, score_numbers; "
            "score_classes(pa.table({'t': ['a', 'b'], 'p': ['a', 'a']}), 't', 'p'); "
            "score_numbers(pa.table({'t': [1.0, 2.0], 'p': [1.0, 3.0]}), 't', 'p'); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
