"""Distributed training on Ray Train (the Learner's `distributed` options) against a real local Ray (2 CPUs,
`ray_local` in conftest.py): accuracy of 2 workers vs 1, DDP synchronisation, one seed = one result, Stop,
a killed worker resuming from its checkpoint, and the sentence without ray."""
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


def _run(wf, **kw):
    eng = Engine(wf)
    events = []
    eng.subscribe(events.append)
    res = eng.run(**kw)
    return eng, res, events


def _weights(eng) -> dict:
    return {k: v.clone() for k, v in eng.output("learner", "network").module.state_dict().items()}


@pytest.fixture(scope="module")
def runs(ray_local):
    """The same training here, on 1 Ray worker and on 2."""
    out = {}
    for key, dist in (("local", None), ("one", {"backend": "ray", "workers": 1}),
                      ("two", {"backend": "ray", "workers": 2})):
        eng, res, events = _run(_workflow(dist))
        assert not res.failed, (key, res, eng.status["learner"].message)
        out[key] = (eng, events)
    return out


@pytest.mark.slow
def test_two_workers_reach_one_workers_accuracy_and_one_worker_trains_what_a_local_run_trains(runs):
    (local, _), (one, _), (two, ev2) = runs["local"], runs["one"], runs["two"]
    # 1 worker: the same shard (all rows, in order), the same seeds, the same batches: the local run's weights
    w0, w1 = _weights(local), _weights(one)
    assert all(torch.allclose(w0[k], w1[k], atol=1e-5) for k in w0)
    acc = [e.status["learner"].scalars["val_accuracy"] for e in (local, one, two)]
    assert acc[1] > 0.85 and abs(acc[2] - acc[1]) <= 0.02, acc
    # the per-epoch metrics reached the node's event stream, as for a local run
    epochs = [e for e in ev2 if e.get("type") == "metrics" and e.get("kind") == "epoch" and e.get("node") == "learner"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    assert "val_accuracy" in epochs[-1]["values"]
    assert two.output("learner", "history").column("epoch").to_pylist() == [1, 2, 3, 4]
    assert two.output("learner", "network").metadata["class_names"][:3] == ["0", "1", "2"]


@pytest.mark.slow
def test_one_seed_gives_one_result_for_a_worker_count(runs):
    again, res, _ = _run(_workflow({"backend": "ray", "workers": 2}))
    assert not res.failed
    wa, wb = _weights(runs["two"][0]), _weights(again)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def _digits_bindings(n=600):
    """The Learner's own bindings and conversions for a slice of digits, for the Python-level API."""
    from deepnodes.dl.convert import convert
    from deepnodes.nodes.dl.learner import NetworkLearner
    from deepnodes.table.arrow import spec_of

    eng = Engine(_workflow())
    assert not eng.run(nodes=["split", "out"]).failed
    table = eng.output("split", "first").slice(0, n)
    net = eng.output("out", "network")
    node = NetworkLearner(NetworkLearner.Config(**LEARNER))
    ins, outs = node._bindings(net.spec, spec_of(table))
    y = [convert(table, b, t, check=False) for b, t, _ in outs]
    return net, table, ins, outs, y


@pytest.mark.slow
def test_stop_during_a_distributed_run_keeps_the_model(ray_local):
    wf = _workflow({"backend": "ray", "workers": 2}, epochs=200)
    eng = Engine(wf)
    seen = threading.Event()

    def watch(ev):
        if ev.get("type") == "metrics" and ev.get("kind") == "epoch" and ev.get("node") == "learner":
            seen.set()

    eng.subscribe(watch)
    t = threading.Thread(target=eng.run)
    t.start()
    assert seen.wait(120), "no epoch finished"
    eng.request_stop("learner")
    t.join(120)
    assert not t.is_alive()
    st = eng.status["learner"]
    assert st.state == "executed", st
    done = st.scalars["epochs"]
    assert 1 <= done < 200
    assert eng.output("learner", "network").metadata["trained"] is True


@pytest.mark.slow
def test_cancel_reaches_the_workers_and_keeps_the_last_complete_epoch(ray_local):
    eng = Engine(_workflow({"backend": "ray", "workers": 2}, epochs=200))

    def on(ev):
        if ev.get("type") == "metrics" and ev.get("kind") == "epoch" and ev.get("node") == "learner" \
                and ev["epoch"] == 2:
            eng.cancel()

    eng.subscribe(on)
    res = eng.run()
    assert res.cancelled and not res.ok
    st = eng.status["learner"]
    assert st.state == "configured" and st.partial, st
    epochs = st.outputs[1].column("epoch").to_pylist()
    assert epochs[:2] == [1, 2] and len(epochs) < 200  # complete epochs only, the workers stopped
    assert st.outputs[0].metadata["trained"] is True


@pytest.mark.slow
def test_a_killed_worker_resumes_from_the_last_checkpoint_and_ddp_keeps_the_ranks_identical(ray_local):
    from deepnodes.dl.distributed.ray_train import train_on_ray
    from deepnodes.dl.options import DistributedOptions, TrainingOptions
    from deepnodes.dl.train import LossSpec

    net, table, ins, outs, y = _digits_bindings(n=1200)
    pids, epochs, killed, logs, digests = {}, [], [], [], {}

    def on_event(ev):
        if ev["kind"] == "digests":  # each rank's weights after every step of the (restarted) group
            digests[ev["rank"]] = ev["digests"]
        elif ev["kind"] == "worker":
            pids[ev["rank"]] = ev["pid"]
        elif ev["kind"] == "epoch":
            epochs.append(ev["epoch"])
            if ev["epoch"] == 2 and not killed:
                killed.append(pids[1])
                os.kill(pids[1], signal.SIGKILL)

    res = train_on_ray(net, table, ins, outs, [LossSpec("sparse_categorical_crossentropy")],
                       TrainingOptions(epochs=5, batch_size=32, seed=3),
                       DistributedOptions(backend="ray", workers=2, max_failures=1),
                       input_classes=[None], target_classes=[y[0].classes], on_event=on_event, log=logs.append,
                       check_sync=True)
    assert killed
    assert any("resuming after epoch" in line for line in logs), logs
    k = epochs.index(2)
    resumed = epochs[k + 1:]
    # the epochs after the kill continue from the last checkpoint (epoch 2, or 3 if it was saved before the
    # kill landed), never from epoch 1
    assert resumed and resumed[0] in (3, 4) and resumed[-1] == 5, epochs
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4, 5]
    # DDP really synchronises: after every optimizer step both ranks hold the same weights, and they change
    steps = (5 - resumed[0] + 1) * -(-600 // 16)  # epochs after the resume x steps of a 600-row shard by 16
    assert sorted(digests) == [0, 1] and len(digests[0]) == steps, (len(digests.get(0, [])), steps)
    assert digests[0] == digests[1] and len(set(digests[0])) == steps


def test_ray_backend_without_ray_is_one_sentence_naming_the_extra(monkeypatch):
    from deepnodes.core.ray_runtime import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(Exception) as e:
        require_ray("distributed.backend")
    assert str(e.value) == ("option 'distributed.backend' is 'ray', but Ray is not installed; install it with "
                            'pip install "deepnodes[ray]"')
    eng = Engine(_workflow({"backend": "ray", "workers": 2}))
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
