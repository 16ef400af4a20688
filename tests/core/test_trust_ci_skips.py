"""Issue 17 section 7: under CI=true a test that would skip fails instead (only `gpu` tests may skip); outside CI a
skip stays a skip. Runs pytest on a small generated suite that uses the project's own conftest hooks."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SUITE = '''
import pytest

def test_skips_for_a_missing_dataset():
    pytest.skip("no dataset here")

@pytest.mark.skipif(True, reason="no browser")
def test_skipped_by_a_marker():
    pass

def test_needs_an_optional_package():
    pytest.importorskip("a_package_that_is_not_installed")

@pytest.mark.gpu
def test_needs_cuda():
    pytest.skip("no CUDA device")

def test_needs_the_shared_mnist_files(mnist_dir, monkeypatch):
    pass

def test_runs():
    pass
'''


def _run(tmp_path, ci: str | None, mnist: bool):
    (tmp_path / "conftest.py").write_text(
        "import tests.conftest as project\n"
        "from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401\n"
        "import pytest\n\n"
        "@pytest.fixture\n"
        "def mnist_dir():\n"
        f"    if not {mnist}:\n"
        "        pytest.skip('the real MNIST test files are not here')\n"
        "    return project.MNIST_DIR\n\n"
        "def pytest_configure(config):\n"
        "    config.addinivalue_line('markers', 'gpu: needs CUDA')\n")
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "module_skip").mkdir()
    (tmp_path / "module_skip" / "test_module.py").write_text(
        "import pytest\npytest.importorskip('another_missing_package')\n\ndef test_x():\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
                        "--continue-on-collection-errors", str(tmp_path)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    return r.stdout


@pytest.mark.parametrize("mnist", [True, False])
def test_under_ci_every_skip_but_a_gpu_test_is_a_failure(tmp_path, mnist):
    out = _run(tmp_path, "true", mnist)
    for name in ("test_skips_for_a_missing_dataset", "test_needs_an_optional_package"):
        assert f"FAILED test_suite.py::{name} - skipped under CI=true" in out, out
    assert "ERROR test_suite.py::test_skipped_by_a_marker - skipped under CI=true" in out, out
    assert "ERROR module_skip/test_module.py - module_skip/test_module.py skipped under CI=true" in out, out
    assert "SKIPPED [1] test_suite.py:16: no CUDA device" in out, out
    assert "PASSED test_suite.py::test_runs" in out
    mnist_line = "test_suite.py::test_needs_the_shared_mnist_files"
    assert (f"PASSED {mnist_line}" if mnist else f"ERROR {mnist_line} - skipped under CI=true") in out, out


def test_outside_ci_a_skip_stays_a_skip(tmp_path):
    out = _run(tmp_path, None, mnist=False)
    assert "failed" not in out.splitlines()[-1] and "error" not in out.splitlines()[-1], out
    assert " 2 passed" not in out and "1 passed" in out.splitlines()[-1], out
