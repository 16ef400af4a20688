"""Issue 17 §4: one seed, one result (whatever runs beside a node), and a node never changes what it was given."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from deepnodes.core import Engine, Workflow
from deepnodes.dl import rng

LAYERS = [("flatten", "deepnodes.layers.Flatten", {}),
          ("dense1", "deepnodes.layers.Dense", {"units": 32, "activation": "relu"}),
          ("noise", "deepnodes.layers.GaussianNoise", {"stddev": 0.1}),
          ("drop", "deepnodes.layers.Dropout", {"rate": 0.5}),
          ("dense2", "deepnodes.layers.Dense", {"units": 10, "activation": "softmax"})]
LEARNER = {"epochs": 2, "batch_size": 16, "seed": 3, "metrics_interval": 0,
           "targets": [{"columns": ["class_name"]}]}


def _workflow(learners: int) -> Workflow:
    """digits -> tensors; Input -> Flatten -> Dense -> GaussianNoise -> Dropout -> Dense softmax; `learners`
    identical learners, each in its own branch (the engine runs them side by side)."""
    wf = Workflow("determinism")
    wf.add("deepnodes.data.DatasetReader", "data", {"dataset": "digits", "limit": 320})
    wf.add("deepnodes.data.ImageToTensor", "tensor", {"column": "image", "scale": "unit"})
    wf.connect("data", "table", "tensor", "table")
    wf.add("deepnodes.layers.Input", "input", {"shape": [1, 8, 8], "name": "image"})
    prev = "input"
    for nid, typ, cfg in LAYERS:
        wf.add(typ, nid, cfg)
        wf.connect(prev, "network", nid, "input")
        prev = nid
    for i in range(learners):
        wf.add("deepnodes.dl.NetworkLearner", f"learner{i}", dict(LEARNER))
        wf.connect(prev, "network", f"learner{i}", "network")
        wf.connect("tensor", "table", f"learner{i}", "table")
    return wf


def _weights(engine: Engine, nid: str) -> dict:
    return {k: v.clone() for k, v in engine.output(nid, "network").module.state_dict().items()}


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _run(wf: Workflow) -> Engine:
    eng = Engine(wf, max_workers=3)
    res = eng.run()
    assert not res.failed, res
    return eng


def test_two_learners_with_dropout_in_parallel_equal_each_other_and_a_run_alone():
    alone = _weights(_run(_workflow(1)), "learner0")
    for _ in range(3):  # on every run
        eng = _run(_workflow(2))
        a, b = _weights(eng, "learner0"), _weights(eng, "learner1")
        assert _equal(a, b)
        assert _equal(a, alone)


def test_a_learner_is_not_changed_by_global_draws_of_code_that_takes_the_lock():
    """Anything drawing from torch's global generator under `rng.seeded` (a build, a script) cannot shift a
    learner's dropout stream."""
    alone = _weights(_run(_workflow(1)), "learner0")
    stop = threading.Event()

    def noise():
        while not stop.is_set():
            with rng.seeded(None):
                torch.rand(1000)
                torch.nn.functional.dropout(torch.ones(100), 0.5)

    t = threading.Thread(target=noise, daemon=True)
    t.start()
    try:
        busy = _weights(_run(_workflow(1)), "learner0")
    finally:
        stop.set()
        t.join()
    assert _equal(busy, alone)


def test_seed_streams_differ_by_purpose_and_seed_and_repeat():
    seen = {rng.stream_seed(s, p) for s in range(50) for p in ("shuffle", "train", "dropout", "init")}
    assert len(seen) == 200  # no two (seed, purpose) streams collide
    assert rng.stream_seed(5, "shuffle") == rng.stream_seed(5, "shuffle")
    a = torch.rand(5, generator=rng.torch_generator(1, "x"))
    assert torch.equal(a, torch.rand(5, generator=rng.torch_generator(1, "x")))
    assert np.array_equal(rng.numpy_generator(2, "y").random(4), rng.numpy_generator(2, "y").random(4))


def test_global_stream_leaves_the_global_generator_as_it_was():
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    s = rng.GlobalStream(7, "train")
    with s.active():
        first = torch.rand(3)
    assert torch.equal(torch.rand(3), want)  # the caller's own sequence is untouched
    with s.active():
        second = torch.rand(3)
    assert not torch.equal(first, second)  # the stream goes on where it stopped
    s2 = rng.GlobalStream(7, "train")
    with s2.active():
        assert torch.equal(torch.rand(3), first)


@pytest.mark.parametrize("build, random", [
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()), False),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1)), True),
    (lambda: torch.nn.LSTM(2, 2, num_layers=2, dropout=0.2), True),
    (lambda: torch.nn.LSTM(2, 2, num_layers=2), False),
    (lambda: type("Mine", (torch.nn.Module,), {"forward": lambda self, x: x})(), True),  # unknown: may draw
])
def test_draws_random_knows_which_modules_draw(build, random):
    assert rng.draws_random(build()) is random


def _beside_global_noise(fn, threads: int = 3) -> list:
    """`fn()` in several threads at once while another thread draws from torch's global generator unlocked."""
    stop = threading.Event()
    out: list = [None] * threads

    def noise():
        while not stop.is_set():
            torch.rand(256)

    def work(i):
        out[i] = fn()

    nt = threading.Thread(target=noise, daemon=True)
    nt.start()
    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    stop.set()
    nt.join()
    return out


def test_text_sampling_draws_only_from_its_own_seed():
    from deepnodes.dl.decode import pick

    logp = torch.log_softmax(torch.randn(64, 30, generator=torch.Generator().manual_seed(0)), -1)

    def draw():
        gen = torch.Generator().manual_seed(11)
        return torch.stack([pick(logp, 0.8, 10, gen) for _ in range(20)])

    alone = draw()
    assert all(torch.equal(o, alone) for o in _beside_global_noise(draw))


def test_row_sampling_and_partitioning_draw_only_from_their_own_seed(iris):
    from deepnodes.table import ops

    def pick_rows():
        return (ops.sample_rows(iris, fraction=0.3, seed=9).column("row_id").to_pylist(),
                [t.column("row_id").to_pylist() for t in ops.partition(iris, fraction=0.5, seed=4)])

    alone = pick_rows()
    assert all(o == alone for o in _beside_global_noise(pick_rows))


# --------------------------------------------------------------------------- a node never changes its inputs
def _snapshot(net) -> dict:
    import copy

    m = net.module
    return {"weights": {k: v.clone() for k, v in m.state_dict().items()},
            "training": [s.training for s in m.modules()],
            "devices": {p.device.type for p in m.parameters()},
            "hooks": sum(len(s._forward_hooks) + len(s._forward_pre_hooks) for s in m.modules()),
            "metadata": copy.deepcopy(net.metadata)}


def test_writers_executors_and_a_learner_in_parallel_leave_the_upstream_network_as_it_was(tmp_path):
    wf = _workflow(1)
    wf.add("deepnodes.dl.NetworkWriter", "onnx", {"path": str(tmp_path / "net.onnx"), "format": "onnx"})
    wf.add("deepnodes.dl.NetworkWriter", "script", {"path": str(tmp_path / "net.pt"), "format": "torchscript"})
    wf.add("deepnodes.dl.NetworkExecutor", "ex_torch", {"backend": "torch", "layers": ["dense1"], "outputs": ["dense2"]})
    wf.add("deepnodes.dl.NetworkExecutor", "ex_auto", {"backend": "auto"})
    for nid in ("onnx", "script"):
        wf.connect("dense2", "network", nid, "network")
    for nid in ("ex_torch", "ex_auto"):
        wf.connect("dense2", "network", nid, "network")
        wf.connect("tensor", "table", nid, "table")
    eng = Engine(wf, max_workers=4)
    assert not eng.run(until="tensor").failed
    assert not eng.run(until="dense2").failed
    upstream = eng.output("dense2", "network")
    upstream.module.train()  # a network in training mode: an eval() by any consumer would show
    before = _snapshot(upstream)
    assert before["hooks"] == 0 and all(before["training"])
    res = eng.run()
    assert not res.failed, [(n, eng.status[n].message) for n in eng.status if eng.status[n].state == "failed"]
    after = _snapshot(eng.output("dense2", "network"))
    assert after["training"] == before["training"]
    assert after["devices"] == before["devices"] and after["hooks"] == 0
    assert after["metadata"] == before["metadata"]
    assert _equal(after["weights"], before["weights"])
    assert eng.output("dense2", "network") is upstream


def test_a_lazily_built_network_is_built_once_when_many_threads_ask():
    from deepnodes.dl.build import LayerBuilder

    eng = Engine(_workflow(0))
    assert not eng.run(until="dense2").failed
    net = eng.output("dense2", "network")
    calls = []
    b = net._builder

    def counting(spec, seed=None):
        calls.append(1)
        return b(spec, seed=seed)

    net._builder = counting
    assert isinstance(b, LayerBuilder)
    mods = []
    ts = [threading.Thread(target=lambda: mods.append(net.module)) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(calls) == 1 and all(m is mods[0] for m in mods)


# --------------------------------------------------------------------------- the cache key covers what changes a result
def _key(wf: Workflow, nid: str, **engine_kw) -> str:
    eng = Engine(wf, **engine_kw)
    eng.configure()
    return eng.status[nid].key


def test_the_key_fills_in_defaults_and_changes_with_a_changed_default(monkeypatch):
    from pydantic import Field

    from deepnodes.core import Node, NodeConfig
    from deepnodes.core.cache_key import cache_key

    class One(Node):
        class Config(NodeConfig):
            rate: float = Field(0.1)

    class Two(Node):  # the same node in a later release: another default
        class Config(NodeConfig):
            rate: float = Field(0.2)

    assert cache_key("t", One({}), "", [], None) == cache_key("t", One({"rate": 0.1}), "", [], None)
    assert cache_key("t", One({}), "", [], None) != cache_key("t", Two({}), "", [], None)
    k = cache_key("t", One({}), "", [], None)
    import deepnodes

    monkeypatch.setattr(deepnodes, "__version__", deepnodes.__version__ + ".post1")
    assert cache_key("t", One({}), "", [], None) != k  # a new version may compute differently


def test_the_key_covers_every_file_a_text_reader_glob_reads(tmp_path):
    import os

    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "b.txt").write_text("two\n")
    wf = Workflow("text")
    wf.add("deepnodes.text.TextReader", "read", {"path": str(tmp_path / "*.txt")})
    eng = Engine(wf)
    assert not eng.run().failed
    k1 = eng.status["read"].key
    assert eng.output("read", "table").column("text").to_pylist() == ["one", "two"]
    (tmp_path / "c.txt").write_text("three\n")  # a new file the pattern matches
    assert not eng.run().failed
    k2 = eng.status["read"].key
    assert k2 != k1 and eng.output("read", "table").column("text").to_pylist() == ["one", "two", "three"]
    (tmp_path / "b.txt").write_text("TWO\n")  # an edited file
    st = os.stat(tmp_path / "b.txt")
    os.utime(tmp_path / "b.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert not eng.run().failed
    assert eng.status["read"].key not in (k1, k2)
    assert eng.output("read", "table").column("text").to_pylist() == ["one", "TWO", "three"]


def test_the_key_of_training_and_inference_covers_the_device():
    wf = _workflow(1)
    wf.add("deepnodes.dl.NetworkExecutor", "ex", {})
    wf.connect("learner0", "network", "ex", "network")
    wf.connect("tensor", "table", "ex", "table")
    cpu, cuda = _key(wf, "learner0", device="cpu"), _key(wf, "learner0", device="cuda")
    assert cpu != cuda
    assert _key(wf, "tensor", device="cpu") == _key(wf, "tensor", device="cuda")  # a device-free node
    wf.nodes["learner0"].config["device"] = "cpu"  # the node's own option wins over the engine's
    assert _key(wf, "learner0", device="cpu") == _key(wf, "learner0", device="cuda")


def test_a_python_script_is_reused_only_when_marked_deterministic(iris):
    for deterministic, runs in ((False, 2), (True, 1)):
        wf = Workflow("script")
        wf.add("deepnodes.python.PythonScript", "s", {"script": "import time\noutput_table = pd.DataFrame("
                                                      "{'t': [time.time_ns()]})", "deterministic": deterministic})
        eng = Engine(wf)
        executed = []
        eng.subscribe(lambda ev: executed.append(ev["node"]) if ev.get("type") == "executed" else None)
        for _ in range(2):
            assert not eng.run().failed
        eng.flush()
        assert executed.count("s") == runs
