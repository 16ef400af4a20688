"""Parallel test runs (pytest-xdist; `make test` runs `-n 2 --dist loadgroup`), imported by tests/conftest.py.

Threads: each worker gets its share of the cores, for itself and for the processes it starts (CLI runs,
TensorFlow children, Ray workers; ONNX Runtime sessions take torch's count). Two workers with an OpenMP pool of
all the cores each spin against each other and run 6-14x slower.

Work units: a test that uses a package- or session-wide fixture of its folder's conftest runs on the worker of
that whole folder (one H2O JVM, one Ray: started once); one that uses a module- or class-wide fixture of the
test tree, on the worker of its file (a browser, a trained model: made once); any other test is a unit of its
own (every worker imports every test module anyway). Units are handed out biggest first (folders, then by
weight: a slow or browser test counts 10), so no long unit starts last while the other worker idles.
Serial runs are unchanged.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def worker_threads(workers: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // workers)


if WORKERS:  # before anything imports torch (its pool takes OMP_NUM_THREADS), inherited by every child process
    for _var in THREAD_VARIABLES:
        os.environ[_var] = str(worker_threads(WORKERS))


def share_group(item) -> str:
    """The unit `item` runs in (see the module docstring): a folder, a file or its own node id."""
    info = getattr(item, "_fixtureinfo", None)
    scopes = [(fd.scope, fd.baseid) for defs in (info.name2fixturedefs.values() if info is not None else ())
              for fd in defs if fd.baseid]  # baseid "": a plugin's fixture (tmp_path_factory), not shared state
    top = item.config.getini("testpaths")  # a session fixture of the top conftest would put all on one worker
    for scope, base in scopes:
        if scope in ("package", "session") and "::" not in base and not base.endswith(".py") and base not in top:
            return base
    if any(scope != "function" for scope, _ in scopes):
        return item.nodeid.split("::", 1)[0]
    return item.nodeid


PLAN = "DEEPNODES_XDIST_PLAN"  # the file where the workers leave each test's unit for the controller


def _controller_groups(config) -> bool:
    return not WORKERS and config.pluginmanager.hasplugin("xdist") and config.getoption("dist", "no") == "loadgroup"


def pytest_configure(config):
    if _controller_groups(config):
        fd, path = tempfile.mkstemp(prefix="deepnodes-xdist-plan-", suffix=".json")
        os.close(fd)
        os.environ[PLAN] = config._deepnodes_plan = path  # the workers start after this and inherit it
        config.option.loadscopereorder = False  # the controller keeps the order the workers' hook gives
    elif not WORKERS:
        os.environ.pop(PLAN, None)  # a suite run inside a test: not its outer run's plan


def pytest_unconfigure(config):
    path = getattr(config, "_deepnodes_plan", None)
    if path:
        Path(path).unlink(missing_ok=True)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's own `loadgroup` reads a suffix it writes into each test's node id, which pytest 9.2 no longer lets a
    plugin change (`Node.nodeid` became a structured id); this scheduler reads the workers' plan instead."""
    if not _controller_groups(config):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class PlannedScheduling(LoadScopeScheduling):
        plan: dict | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.plan is None:
                self.plan = json.loads(Path(config._deepnodes_plan).read_text() or "{}")
            return self.plan.get(nodeid, nodeid)

    return PlannedScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """On each worker (both collect the same list): each test's unit, written to the plan, and the tests ordered
    unit by unit, biggest first. A test's own `xdist_group` mark wins."""
    plan_file = os.environ.get(PLAN)
    if not WORKERS or not plan_file:
        return
    groups: dict[str, list] = {}
    for item in items:
        marks = list(item.iter_markers("xdist_group"))
        name = (marks[0].args[0] if marks[0].args else marks[0].kwargs.get("name", "default")) if marks \
            else share_group(item)
        groups.setdefault(str(name), []).append(item)

    def weight(g: str) -> tuple[bool, int]:
        heavy = sum(10 if it.get_closest_marker("slow") or it.get_closest_marker("browser") else 1
                    for it in groups[g])
        return "." not in g, heavy  # a folder before any file

    items[:] = [it for g in sorted(groups, key=weight, reverse=True) for it in groups[g]]
    plan = {it.nodeid: g for g, its in groups.items() for it in its}
    tmp = Path(f"{plan_file}.{os.getpid()}")
    tmp.write_text(json.dumps(plan))
    tmp.replace(plan_file)  # both workers write the same plan; either whole file will do
