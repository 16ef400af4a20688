"""Distributed training on Ray Train (the Learner's `distributed` options) against a real local Ray (2 CPUs,
`ray_local` in conftest.py): accuracy of 2 workers vs 1, DDP synchronisation, one seed = one result, Stop,
a killed worker resuming from its checkpoint, and the sentence without ray."""
import os
import signal
import sys
import threading

import pytest
import torch

from deepnodes.core import Engine, Workflow

pytest.importorskip("ray")

LEARNER = {"epochs": 4, "batch_size": 64, "seed": 5, "metrics_interval": 0, "learning_rate": 0.01,
           "targets": [{"columns": ["class_name"]}]}


def _workflow(distributed: dict | None = None, **learner) -> Workflow:
    """digits -> 75/25 stratified partition -> Flatten -> Dense 32 relu -> Dense 10 softmax -> Learner."""
    wf = Workflow("ray-train")
    wf.add("deepnodes.data.DatasetReader", "data", {"dataset": "digits"})
    wf.add("deepnodes.data.ImageToTensor", "tensor", {"column": "image", "scale": "unit"})
    wf.connect("data", "table", "tensor", "table")
    wf.add("deepnodes.data.Partitioning", "split", {"fraction": 0.75, "method": "stratified",
                                                     "column": "class_name", "seed": 1})
    wf.connect("tensor", "table", "split", "table")
    wf.add("deepnodes.layers.Input", "input", {"shape": [1, 8, 8], "name": "image"})
    prev = "input"
    for nid, typ, cfg in [("flatten", "deepnodes.layers.Flatten", {}),
                          ("hidden", "deepnodes.layers.Dense", {"units": 32, "activation": "relu"}),
                          ("out", "deepnodes.layers.Dense", {"units": 10, "activation": "softmax"})]:
        wf.add(typ, nid, cfg)
        wf.connect(prev, "network", nid, "input")
        prev = nid
    cfg = {**LEARNER, **learner}
    if distributed is not None:
        cfg["distributed"] = distributed
    wf.add("deepnodes.dl.NetworkLearner", "learner", cfg)
    wf.connect(prev, "network", "learner", "network")
    wf.connect("split", "first", "learner", "table")
    wf.connect("split", "second", "learner", "validation")
    return wf


def _run(wf: Workflow, **kw):
    eng = Engine(wf)
    events = []
    eng.subscribe(events.append)
    res = eng.run(**kw)
    return eng, res, events


def _weights(eng) -> dict:
    return {k: v.clone() for k, v in eng.output("learner", "network").module.state_dict().items()}


def test_two_workers_reach_one_workers_accuracy_and_one_worker_trains_what_a_local_run_trains(ray_local):
    local, r0, _ = _run(_workflow())
    one, r1, ev1 = _run(_workflow({"backend": "ray", "workers": 1}))
    two, r2, ev2 = _run(_workflow({"backend": "ray", "workers": 2}))
    for r in (r0, r1, r2):
        assert not r.failed, r
    # 1 worker: the same shard (all rows, in order), the same seeds, the same batches: the local run's weights
    w0, w1 = _weights(local), _weights(one)
    assert all(torch.allclose(w0[k], w1[k], atol=1e-5) for k in w0)
    acc = [e.status["learner"].scalars["val_accuracy"] for e in (local, one, two)]
    assert acc[1] > 0.85 and abs(acc[2] - acc[1]) <= 0.02, acc
    # the per-epoch metrics reached the node's event stream, as for a local run
    epochs = [e for e in ev2 if e.get("type") == "metrics" and e.get("kind") == "epoch" and e.get("node") == "learner"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    assert "val_accuracy" in epochs[-1]["values"]
    hist = two.output("learner", "history")
    assert hist.column("epoch").to_pylist() == [1, 2, 3, 4]
    assert two.output("learner", "network").metadata["class_names"][:3] == ["0", "1", "2"]


def test_one_seed_gives_one_result_for_a_worker_count(ray_local):
    a, ra, _ = _run(_workflow({"backend": "ray", "workers": 2}, epochs=2))
    b, rb, _ = _run(_workflow({"backend": "ray", "workers": 2}, epochs=2))
    assert not ra.failed and not rb.failed
    wa, wb = _weights(a), _weights(b)
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


def test_ddp_synchronises_the_workers_weights_after_every_step(ray_local):
    from deepnodes.dl.distributed.ray_train import train_on_ray
    from deepnodes.dl.options import DistributedOptions, TrainingOptions
    from deepnodes.dl.train import LossSpec

    net, table, ins, outs, y = _digits_bindings()
    events = []
    res = train_on_ray(net, table, ins, outs, [LossSpec("sparse_categorical_crossentropy")],
                       TrainingOptions(epochs=2, batch_size=64, seed=3), DistributedOptions(backend="ray", workers=2),
                       input_classes=[None], target_classes=[y[0].classes], on_event=events.append, check_sync=True)
    digests = {e["rank"]: e["digests"] for e in events if e["kind"] == "digests"}
    assert sorted(digests) == [0, 1]
    steps = 2 * -(-300 // 32)  # 2 epochs of a 300-row shard in batches of 64 / 2 workers
    assert len(digests[0]) == steps and digests[0] == digests[1]
    assert len(set(digests[0])) == steps  # the weights changed at every step (the digests are not constant)
    assert res.epochs_done == 2 and len(res.history) == 2


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


def test_a_killed_worker_resumes_from_the_last_checkpoint(ray_local):
    from deepnodes.dl.distributed.ray_train import train_on_ray
    from deepnodes.dl.options import DistributedOptions, TrainingOptions
    from deepnodes.dl.train import LossSpec

    net, table, ins, outs, y = _digits_bindings(n=1200)
    pids, epochs, killed, logs = {}, [], [], []

    def on_event(ev):
        if ev["kind"] == "worker":
            pids[ev["rank"]] = ev["pid"]
        elif ev["kind"] == "epoch":
            epochs.append(ev["epoch"])
            if ev["epoch"] == 2 and not killed:
                killed.append(pids[1])
                os.kill(pids[1], signal.SIGKILL)

    res = train_on_ray(net, table, ins, outs, [LossSpec("sparse_categorical_crossentropy")],
                       TrainingOptions(epochs=5, batch_size=32, seed=3),
                       DistributedOptions(backend="ray", workers=2, max_failures=1),
                       input_classes=[None], target_classes=[y[0].classes], on_event=on_event, log=logs.append)
    assert killed
    assert any("resuming after epoch" in line for line in logs), logs
    k = epochs.index(2)
    resumed = epochs[k + 1:]
    # the epochs after the kill continue from the last checkpoint (epoch 2, or 3 if it was saved before the
    # kill landed), never from epoch 1
    assert resumed and resumed[0] in (3, 4) and resumed[-1] == 5, epochs
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4, 5]


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
