"""Distributed training on Ray Train (the Learner's `distributed` options) against a real local Ray (2 CPUs,
`ray_local` in conftest.py): accuracy of 2 workers vs 1, DDP synchronisation, one seed = one result, Stop,
a killed worker resuming from its checkpoint, Cancel, and the sentences without ray / for a bad address.

Every Ray Train run costs a worker group start (new processes importing torch and deepnodes, a gloo group), so
the runs are few and each serves several tests: the 2-worker run records its ranks' weight digests after every
step (DDP, and the reference for "one seed, one result"), the stopped run's digests are compared with them, and
one run has a worker killed and then is cancelled."""
import contextlib
import math
import os
import signal
import sys
import threading

import pytest
import torch

from deepnodes.core import Engine

pytest.importorskip("ray")

from tests.ray.ray_workflows import LEARNER  # noqa: E402
from tests.ray.ray_workflows import digits_workflow as _workflow  # noqa: E402

TWO = {"backend": "ray", "workers": 2}
EPOCHS = 8  # of the reference runs: enough for a killed run's resumed epochs to be compared with them
SCORES = ("loss", "accuracy", "val_loss", "val_accuracy")


class Raw:
    """The raw events of one `train_on_ray` call: worker pids, weight digests per rank, epochs, a resume."""

    def __init__(self, then=None):
        self.pids, self.digests, self.kinds, self.then = {}, {}, [], then

    def __call__(self, ev):
        self.kinds.append((ev["kind"], ev.get("epoch")))
        if ev["kind"] == "worker":
            self.pids[ev["rank"]] = ev["pid"]
        elif ev["kind"] == "digests":  # each rank's weights after every step of its (last) group
            self.digests[ev["rank"]] = ev["digests"]
        if self.then is not None:
            self.then(ev)


@contextlib.contextmanager
def _watched(raw: Raw):
    """The Learner's `train_on_ray` call, with `check_sync` (per-step digests) and its raw events seen by `raw`."""
    import deepnodes.dl.distributed.ray_train as rt

    real = rt.train_on_ray

    def spy(*a, **kw):
        return real(*a, on_event=raw, check_sync=True, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rt, "train_on_ray", spy)  # the Learner imports it when it runs
        yield


def _run(wf, raw: Raw | None = None, **kw):
    eng = Engine(wf)
    events = []
    eng.subscribe(events.append)
    with _watched(raw or Raw()):
        res = eng.run(**kw)
    return eng, res, events


def _weights(eng) -> dict:
    return {k: v.clone() for k, v in eng.output("learner", "network").module.state_dict().items()}


def _steps_per_epoch(eng, workers: int) -> int:
    """ceil(shard rows / rows per worker per step): the steps every rank takes in an epoch."""
    shard = math.ceil(eng.output("split", "first").num_rows / workers)
    return math.ceil(shard / math.ceil(LEARNER["batch_size"] / workers))


def _epoch_scores(eng) -> list[dict]:
    return [{k: h[k] for k in SCORES} for h in eng.output("learner", "history").to_pylist()]


@pytest.fixture(scope="module")
def runs(ray_local):
    """The same training here, on 1 Ray worker and on 2 (with the raw events of the Ray runs)."""
    out = {}
    for key, dist in (("local", None), ("one", {"backend": "ray", "workers": 1}), ("two", TWO)):
        raw = Raw()
        eng, res, events = _run(_workflow(dist, epochs=EPOCHS), raw)
        assert not res.failed, (key, res, eng.status["learner"].message)
        out[key] = (eng, events, raw)
    return out


@pytest.fixture(scope="module")
def stopped(ray_local):
    """The 2-worker training of `runs` with 200 epochs, stopped after its first epoch."""
    raw = Raw()
    eng = Engine(_workflow(TWO, epochs=200))
    seen = threading.Event()

    def watch(ev):
        if ev.get("type") == "metrics" and ev.get("kind") == "epoch" and ev.get("node") == "learner":
            seen.set()

    eng.subscribe(watch)
    with _watched(raw):
        t = threading.Thread(target=eng.run)
        t.start()
        assert seen.wait(120), "no epoch finished"
        eng.request_stop("learner")
        t.join(120)
    assert not t.is_alive()
    return eng, raw


@pytest.mark.slow
def test_two_workers_reach_one_workers_accuracy_and_one_worker_trains_what_a_local_run_trains(runs):
    (local, _, _), (one, _, _), (two, ev2, _) = runs["local"], runs["one"], runs["two"]
    # 1 worker: the same shard (all rows, in order), the same seeds, the same batches: the local run's weights
    w0, w1 = _weights(local), _weights(one)
    assert all(torch.allclose(w0[k], w1[k], atol=1e-5) for k in w0)
    acc = [e.status["learner"].scalars["val_accuracy"] for e in (local, one, two)]
    assert acc[1] > 0.85 and abs(acc[2] - acc[1]) <= 0.02, acc
    # the per-epoch metrics reached the node's event stream, as for a local run
    epochs = [e for e in ev2 if e.get("type") == "metrics" and e.get("kind") == "epoch" and e.get("node") == "learner"]
    assert [e["epoch"] for e in epochs] == list(range(1, EPOCHS + 1))
    assert "val_accuracy" in epochs[-1]["values"]
    assert two.output("learner", "history").column("epoch").to_pylist() == list(range(1, EPOCHS + 1))
    assert two.output("learner", "network").metadata["class_names"][:3] == ["0", "1", "2"]


@pytest.mark.slow
def test_ddp_keeps_the_two_ranks_weights_identical_after_every_step(runs):
    two, _, raw = runs["two"]
    steps = EPOCHS * _steps_per_epoch(two, 2)
    assert sorted(raw.digests) == [0, 1] and len(raw.digests[0]) == steps, (len(raw.digests.get(0, [])), steps)
    assert raw.digests[0] == raw.digests[1] and len(set(raw.digests[0])) == steps  # identical, and they change


@pytest.mark.slow
def test_one_seed_gives_one_result_for_a_worker_count(runs, stopped):
    """The stopped run is the 2-worker run again (200 epochs instead of 8, which changes no step): after every
    step both ran, its weights are the first run's, bit for bit."""
    two, _, first = runs["two"]
    again = stopped[1].digests[0]
    n = min(len(again), len(first.digests[0]))
    assert n >= _steps_per_epoch(two, 2), n  # at least its first epoch
    assert again[:n] == first.digests[0][:n]
    done = min(stopped[0].status["learner"].scalars["epochs"], EPOCHS)  # its complete epochs score alike too
    assert done >= 1 and _epoch_scores(stopped[0])[:done] == _epoch_scores(two)[:done]


@pytest.mark.slow
def test_stop_during_a_distributed_run_keeps_the_model(stopped):
    eng, raw = stopped
    st = eng.status["learner"]
    assert st.state == "executed", st
    done = st.scalars["epochs"]
    assert 1 <= done < 200
    assert eng.output("learner", "network").metadata["trained"] is True
    assert raw.digests[0] == raw.digests[1]  # both ranks left the loop at the same step


@pytest.mark.slow
def test_a_killed_worker_resumes_from_its_checkpoint_and_a_cancel_reaches_the_new_workers(runs):
    """Rank 1 is killed once epoch 3 has been reported (epoch 2's checkpoint is written by then); Ray restarts
    the group, which resumes after the last checkpointed epoch; two epochs later the run is cancelled."""
    eng = Engine(_workflow({**TWO, "max_failures": 1}, epochs=200))
    said: dict = {"after": []}

    def on_raw(ev):
        if ev["kind"] == "epoch" and ev["epoch"] == 3 and "killed" not in said:
            said["killed"] = raw.pids[1]
            os.kill(raw.pids[1], signal.SIGKILL)
        elif ev["kind"] == "resumed":
            said["resumed"] = ev["epoch"]
        elif ev["kind"] == "epoch" and "resumed" in said:
            said["after"].append(ev["epoch"])
            if len(said["after"]) == 2:
                eng.cancel()

    raw = Raw(then=on_raw)
    events: list = []
    eng.subscribe(events.append)
    with _watched(raw):
        res = eng.run()
    why = (said, raw.kinds, res, eng.status["learner"].state, eng.status["learner"].message,
           [e["line"] for e in events if e.get("type") == "log" and e.get("node") == "learner"])
    assert "killed" in said and "resumed" in said, why
    # resumed after the last checkpoint (never from the start), and went on from the epoch after it
    assert said["resumed"] >= 2 and said["after"][0] == said["resumed"] + 1, (said, raw.kinds)
    logs = [e["line"] for e in events if e.get("type") == "log" and e.get("node") == "learner"]
    assert any("resuming after epoch" in line for line in logs), logs
    # the cancel reached the restarted workers: complete epochs only, each once, the model kept
    assert res.cancelled and not res.ok
    st = eng.status["learner"]
    assert st.state == "configured" and st.partial, st
    epochs = st.outputs[1].column("epoch").to_pylist()
    assert epochs == list(range(1, len(epochs) + 1)) and said["resumed"] + 2 <= len(epochs) < 200, epochs
    assert st.outputs[0].metadata["trained"] is True
    # DDP in the restarted group: both ranks identical after every step of the two epochs it completed
    assert sorted(raw.digests) == [0, 1] and raw.digests[0] == raw.digests[1]
    assert len(set(raw.digests[0])) == len(raw.digests[0]) >= 2 * _steps_per_epoch(eng, 2)
    # the epochs before and after the restart score exactly what the uninterrupted run scored (same seed): the
    # restarted ranks went on with their own shuffling streams
    scores = [{k: h[k] for k in SCORES} for h in st.outputs[1].to_pylist()]
    n = min(len(scores), EPOCHS)
    assert said["resumed"] < n and scores[:n] == _epoch_scores(runs["two"][0])[:n], (said, n)


def test_ray_backend_without_ray_is_one_sentence_naming_the_extra(monkeypatch):
    from deepnodes.core.ray_runtime import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(Exception) as e:
        require_ray("distributed.backend")
    assert str(e.value) == ("option 'distributed.backend' is 'ray', but Ray is not installed; install it with "
                            'pip install "deepnodes[ray]"')
    eng = Engine(_workflow(TWO))
    eng.configure()
    st = eng.status["learner"]
    assert "deepnodes[ray]" in (st.message or "") and "\n" not in st.message, st


def test_set_reaches_the_distributed_options_and_a_bad_address_is_a_sentence():
    wf = _workflow()
    wf.set_option("learner", "distributed.backend", "ray")
    wf.set_option("learner", "distributed.workers", 3)
    assert wf.nodes["learner"].config["distributed"]["backend"] == "ray"
    assert wf.nodes["learner"].config["distributed"]["workers"] == 3
    wf.set_option("learner", "distributed.address", "http://head:8265")
    eng = Engine(wf)
    eng.configure()
    msg = eng.status["learner"].message or ""
    assert "option 'distributed.address' must be empty" in msg and "\n" not in msg, msg


def test_more_workers_than_the_cluster_has_cpus_is_a_sentence_not_a_wait(ray_local):
    eng, res, _ = _run(_workflow({"backend": "ray", "workers": 3}))
    assert res.failed == ["learner"]
    msg = eng.status["learner"].message
    assert "option 'distributed.workers' is 3, but the Ray cluster has 2 CPUs; use at most 2 workers" in msg, msg
