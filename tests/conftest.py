import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MNIST_DIR = SHARED / "data" / "mnist"

os.environ.setdefault("DEEPNODES_CACHE", str(ROOT / ".cache" / "test-cache"))

from tests.xdist_groups import (  # noqa: E402,F401 (parallel runs: -n 2)
    pytest_collection_modifyitems, pytest_configure, pytest_unconfigure, pytest_xdist_make_scheduler)
os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras is an interchange format here: always its torch backend


class _KerasWithoutTensorFlow:
    """The test process is a torch process, which never imports TensorFlow (dl/formats/tf_env.py; tests assert
    it): Keras and TensorBoard imported by the tests themselves are told TensorFlow is absent, as DeepNodes tells
    them, whichever test imports them first (Keras would import TensorFlow on its first model save)."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        import importlib.util
        import sys

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                from deepnodes.dl.formats.tf_env import keep_tensorflow_out

                keep_tensorflow_out()
            spec.loader.exec_module = exec_module
        return spec


def _keep_tensorflow_out() -> None:
    import sys

    from deepnodes.dl.formats.tf_env import keep_tensorflow_out

    keep_tensorflow_out()  # TensorBoard's own switch (imported or not)
    if "keras" not in sys.modules:
        sys.meta_path.insert(0, _KerasWithoutTensorFlow())


_keep_tensorflow_out()

# Property-based tests (hypothesis): no deadline (a shared 2-core machine is slow now and then); under CI the
# examples are derandomized, so a CI failure reproduces exactly. DEEPNODES_FUZZ_SCALE=10 tries 10 times more
# examples in the trust tests (tests/core/trust_strategies.py: `examples`).
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI", "").lower() == "true"
                                     else "dev"))

# Under CI=true a test that would skip (a missing dataset, browser or optional package, the ../shared MNIST files)
# fails instead: CI installs everything the suite needs, so a skip there hides a test that never ran. Only tests
# marked `gpu` may skip in CI. Outside CI, skips stay skips (a user's clone may lack ../shared or chromium).
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and not hasattr(rep, "wasxfail") and item.get_closest_marker("gpu") is None:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI=true, where nothing but a GPU test may skip: {reason}"


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST test files in ../shared/data/mnist (present in the project's own checkouts and CI)."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("the real MNIST test files are not here (../shared/data/mnist exists only in the project's checkouts)")
    return MNIST_DIR


@pytest.fixture
def iris():
    """scikit-learn's iris data as a table: four number columns, a string `species` and a `row_id`."""
    import numpy as np
    import pyarrow as pa
    from sklearn.datasets import load_iris

    from deepnodes.table.arrow import with_row_id

    d = load_iris()
    t = pa.table({"sepal_length": d.data[:, 0], "sepal_width": d.data[:, 1], "petal_length": d.data[:, 2],
                  "petal_width": d.data[:, 3], "species": np.array(d.target_names)[d.target]})
    return with_row_id(t)


@pytest.fixture
def forked_cli(tmp_path):
    """`deepnodes` runs forked from one process that imported DeepNodes once, for tests that start and kill
    many runs (tests/forked_cli.py); the runs' output goes to tmp_path/forked-logs."""
    from tests.forked_cli import ForkedCLI

    logs = tmp_path / "forked-logs"
    logs.mkdir()
    with ForkedCLI(ROOT, logs) as cli:
        yield cli


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """The same for a whole module skipped at import (`pytest.importorskip` at module level, `allow_module_level`)."""
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"{collector.nodeid} skipped under CI=true, where nothing but a GPU test may skip: {reason}"
