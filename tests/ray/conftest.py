"""One local Ray for the Ray tests (training and Tune): 2 CPUs, bound to 127.0.0.1, no dashboard, started once
per test session through the same helper the nodes use (`deepnodes.core.ray_runtime.connect`) and shut down at
the end. While it is up, the nodes reuse it (and never shut it down)."""
import os

import pytest


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory):
    pytest.importorskip("ray")
    from deepnodes.core.ray_runtime import connect

    os.environ.setdefault("DEEPNODES_RAY_STORAGE", str(tmp_path_factory.mktemp("ray-storage")))
    session = connect("", num_cpus=2)
    assert session.owned, "a Ray was already initialised in the test process"
    yield session
    session.close()
