"""What a run's output shows of Ray (`deepnodes.core.ray_runtime`): the raylet's messages go to the `ray` logger
instead of stdout, other streams are left to Ray, and a Ray that cannot start is one sentence naming the option."""
import logging
import os

import pytest

pytest.importorskip("ray")

from deepnodes.core import ray_runtime  # noqa: E402
from deepnodes.core.node import NodeError  # noqa: E402


def test_the_raylets_messages_go_to_the_ray_logger_not_to_stdout(capsys, caplog, monkeypatch):
    import ray._private.worker as rw

    seen = []
    monkeypatch.setattr(rw, "print_to_stdstream", lambda data, ignore_prefix: seen.append(data))
    ray_runtime._route_raylet_messages()
    ray_runtime._route_raylet_messages()  # once is enough: routing again changes nothing
    with caplog.at_level(logging.WARNING, logger="ray"):
        rw.print_to_stdstream({"lines": ["A worker died or was killed", "second"], "pid": "raylet", "is_err": False},
                              ignore_prefix=False)
        rw.print_to_stdstream({"lines": ["a worker's own line"], "pid": 123, "is_err": False}, ignore_prefix=False)
    out = capsys.readouterr()
    assert "A worker died" not in out.out + out.err
    assert [r.getMessage() for r in caplog.records if r.name == "ray"] == ["(raylet) A worker died or was killed",
                                                                           "(raylet) second"]
    assert [d["pid"] for d in seen] == [123]  # a worker's stream (shown only with log_to_driver) is Ray's


def test_a_local_ray_that_cannot_start_is_one_sentence_naming_the_option(monkeypatch):
    import ray

    tries = []

    def init(**kw):
        assert kw["_system_config"]["worker_register_timeout_seconds"] >= 300
        tries.append(kw["address"])
        raise Exception("The current node timed out during startup.\nmore")  # what Ray raises (a bare Exception)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: tries.append("shutdown"))
    monkeypatch.delenv("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", raising=False)
    with pytest.raises(NodeError) as e:
        ray_runtime.connect("", option="distributed.address", backend_option="distributed.backend")
    assert str(e.value) == ("option 'distributed.address': could not connect to a local Ray: "
                            "The current node timed out during startup.")
    assert tries == ["local", "shutdown", "local"]  # a start that timed out is cleaned up and tried once more
    assert "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S" not in os.environ  # what connect set for the Ray is taken back


def test_a_local_rays_workers_run_at_the_callers_priority_and_wait_for_a_slow_group_start(ray_local):
    """Ray nices its workers to 15 by default: beside other work on a small machine the training starved and its
    worker group missed Ray Train's 60 s start timeout. A local Ray runs them at the caller's priority, with 300 s."""
    ray = ray_local.ray

    @ray.remote(num_cpus=1)
    def about():
        return os.nice(0), os.environ.get("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S")

    assert ray.get(about.remote(), timeout=120) == (os.nice(0), "300")
