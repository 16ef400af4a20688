"""Parallel runs (tests/xdist_groups.py): a small suite run with `-n 2 --dist loadgroup` through the same hooks as
the real one; each test records the worker it ran on and the thread count it saw."""
from __future__ import annotations

import json

from tests.conftest import ROOT
from tests.xdist_groups import worker_threads

pytest_plugins = ["pytester"]

RECORD = '''
import json, os

def record(name):
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps([name, os.environ["PYTEST_XDIST_WORKER"], os.environ["OMP_NUM_THREADS"]]) + "\\n")
'''


def test_tests_sharing_a_fixture_share_a_worker_and_each_worker_gets_its_share_of_the_cores(pytester, monkeypatch):
    pytester.makeini("[pytest]\ntestpaths = t\n")
    pytester.makeconftest("from tests.xdist_groups import pytest_collection_modifyitems, pytest_configure, "
                          "pytest_unconfigure, pytest_xdist_make_scheduler\n")
    pytester.makepyfile(**{"t/record.py": RECORD})
    pytester.makepyfile(**{
        "t/pkg/conftest.py": "import pytest\n\n@pytest.fixture(scope='package')\ndef service():\n    return 1\n",
        **{f"t/pkg/test_p{i}.py": "from record import record\n\n" + "".join(
            f"def test_{j}(service):\n    record('pkg')\n\n" for j in range(3)) for i in range(2)},
        "t/test_module.py": "import pytest\nfrom record import record\n\n@pytest.fixture(scope='module')\n"
                            "def model():\n    return 1\n\n" + "".join(
                                f"def test_{j}(model):\n    record('module')\n\n" for j in range(4)),
        "t/test_free.py": "from record import record\n\n" + "".join(
            f"def test_{j}():\n    record('free')\n\n" for j in range(8)),
        **{f"t/test_marked{i}.py": "import pytest\nfrom record import record\n\n"
                                   "@pytest.mark.xdist_group('mine')\ndef test_it():\n    record('marked')\n"
           for i in range(2)},
    })
    record = pytester.path / "record.jsonl"
    monkeypatch.setenv("RECORD", str(record))
    for var in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):  # when this suite itself runs under xdist
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{pytester.path / 't'}")
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6 + 4 + 8 + 2)
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    workers = {kind: {w for k, w, _ in rows if k == kind} for kind in ("pkg", "module", "free", "marked")}
    assert len(workers["pkg"]) == 1 and len(workers["module"]) == 1 and len(workers["marked"]) == 1, workers
    assert {t for _, _, t in rows} == {str(worker_threads(2))}
