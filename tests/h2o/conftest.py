"""Small real data sets for the H2O tests, and one H2O session for the whole folder (stopped at its end)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("h2o", reason="the h2o package is not installed (pip install 'deepnodes[h2o]')")

OPTIONS = {"max_mem_size": "1G", "nthreads": 2}


@pytest.fixture(scope="package", autouse=True)
def _stop_h2o_at_the_end():
    yield
    from deepnodes.h2o import session as s

    s.shutdown()


@pytest.fixture
def session():
    """The running H2O session (started once, about 9 s; a test that kills it makes the next one start again)."""
    from deepnodes.h2o import session as s

    return s.acquire(s.SessionOptions(**OPTIONS))


@pytest.fixture(scope="package")
def cancer() -> pa.Table:
    """scikit-learn's breast cancer data: the 30 measurements as one tensor column, an integer label."""
    from sklearn.datasets import load_breast_cancer

    from deepnodes.table.arrow import tensor_array

    d = load_breast_cancer()
    return pa.table({"x": tensor_array(d.data.astype(np.float32)), "label": pa.array(d.target.astype(np.int64))})


@pytest.fixture(scope="package")
def flowers() -> pa.Table:
    """Iris with a category column (sepal width binned into narrow / medium / wide) beside the numbers."""
    from sklearn.datasets import load_iris

    from deepnodes.table.arrow import category_array

    d = load_iris()
    width = np.array(["narrow", "medium", "wide"])[np.digitize(d.data[:, 1], [2.9, 3.3])]
    return pa.table({"sepal_length": d.data[:, 0], "petal_length": d.data[:, 2], "petal_width": d.data[:, 3],
                     "sepal": category_array(width), "species": category_array(np.array(d.target_names)[d.target])})
