"""Python Script and the Python network nodes, run through the engine on the iris data set."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from deepnodes.core import Engine, Workflow
from deepnodes.scripting import ScriptError, run_script, table_from_script

IRIS_SOURCE = """\
from sklearn.datasets import load_iris
d = load_iris()
print("rows:", len(d.target))
output_table = pd.DataFrame({"features": list(d.data.astype(np.float32)), "label": d.target})
"""


def _run(wf: Workflow):
    eng = Engine(wf)
    events: list[dict] = []
    eng.subscribe(events.append)
    res = eng.run()
    return eng, res, events


def _message(eng: Engine, node: str) -> str:
    return eng.status[node].message


# --------------------------------------------------------------------------- scripting core
def test_errors_name_the_users_line():
    code = "a = 1\nb = 2\nc = x + a\n"
    with pytest.raises(ScriptError) as e:
        run_script(code, {})
    assert str(e.value) == "line 3 of the script: NameError: name 'x' is not defined"
    with pytest.raises(ScriptError, match="^line 2 of the script: SyntaxError"):
        run_script("a = 1\nb = (\n", {})
    # an error inside a function the script defined points at the line inside that function
    code = "def f(v):\n    return v / 0\n\nf(3)\n"
    with pytest.raises(ScriptError, match="^line 2 of the script: ZeroDivisionError: division by zero"):
        run_script(code, {})


def test_output_goes_to_the_log_and_only_this_threads():
    import sys

    lines: list[tuple[str, str]] = []
    before = sys.stdout
    run_script("print('hello')\nimport sys\nprint('oops', file=sys.stderr)\nprint('no newline', end='')",
               {}, log=lambda line, level: lines.append((line, level)))
    assert lines == [("hello", "info"), ("oops", "warning"), ("no newline", "info")]
    print("outside")  # not captured any more
    assert lines[-1] == ("no newline", "info")
    assert sys.stdout is before or getattr(sys.stdout, "original", None) is not None


def test_wrong_result_types_are_named():
    with pytest.raises(ScriptError, match="must assign a pandas DataFrame or a pyarrow Table to 'output_table'; "
                                          "it assigned a list"):
        table_from_script([1, 2, 3])
    import pandas as pd

    t = table_from_script(pd.DataFrame({"v": [np.zeros(3), np.ones(3)], "n": [1, 2]}))
    assert str(t.schema.field("v").type).startswith("extension<arrow.fixed_shape_tensor")
    with pytest.raises(ScriptError, match="arrays of different shapes"):
        table_from_script(pd.DataFrame({"v": [np.zeros(3), np.ones(2)]}))


# --------------------------------------------------------------------------- through the engine
def test_python_script_source_and_transform():
    wf = Workflow()
    wf.add("deepnodes.python.PythonScript", "src", {"script": IRIS_SOURCE})
    wf.add("deepnodes.python.PythonScript", "arrow", {"table_api": "pyarrow", "script": textwrap.dedent("""\
        import pyarrow.compute as pc
        output_table = input_table.filter(pc.equal(input_table["label"], 2))
        """)})
    wf.connect("src", "table", "arrow", "table")
    eng, res, events = _run(wf)
    assert res.ok, eng.status["arrow"].message
    out = eng.output("arrow")
    assert out.num_rows == 50 and set(out.column("label").to_pylist()) == {2}
    assert {"type": "log", "node": "src", "level": "info", "line": "rows: 150"}.items() <= \
        next(e for e in events if e.get("type") == "log" and e.get("node") == "src").items()


def test_script_failures_are_node_errors():
    wf = Workflow()
    wf.add("deepnodes.python.PythonScript", "raises", {"script": "x = 1\nraise ValueError('bad value')\n"})
    wf.add("deepnodes.python.PythonScript", "wrong", {"script": "output_table = 42\n"})
    wf.add("deepnodes.python.PythonScript", "none", {"script": "y = 1\n"})
    wf.add("deepnodes.python.PythonScript", "syntax", {"script": "y = = 1\n"})
    eng, res, _ = _run(wf)
    assert not res.ok
    assert _message(eng, "raises") == "line 2 of the script: ValueError: bad value"
    assert _message(eng, "wrong") == ("the script must assign a pandas DataFrame or a pyarrow Table to "
                                      "'output_table'; it assigned a int")
    assert "must assign its result" in _message(eng, "none")
    assert eng.status["syntax"].state == "idle" and _message(eng, "syntax").startswith("line 1 of the script: SyntaxError")


def test_python_network_create_train_execute_on_iris():
    wf = Workflow()
    wf.add("deepnodes.python.PythonScript", "src", {"script": IRIS_SOURCE})
    wf.add("deepnodes.python.PythonNetworkCreator", "create", {"seed": 1})
    wf.add("deepnodes.python.PythonNetworkLearner", "learn", {"seed": 1})
    wf.add("deepnodes.python.PythonNetworkExecutor", "apply", {})
    wf.connect("src", "table", "learn", "table")
    wf.connect("create", "network", "learn", "network")
    wf.connect("learn", "network", "apply", "network")
    wf.connect("src", "table", "apply", "table")
    eng = Engine(wf)
    st = eng.configure()
    # declared specs are known before anything runs
    assert st["create"].specs[0].outputs[0].shape == (3,) and st["learn"].specs[0].inputs[0].name == "features"
    events: list[dict] = []
    eng.subscribe(events.append)
    res = eng.run()
    assert res.ok, {n: s.message for n, s in eng.status.items()}
    history = eng.output("learn", "history")
    assert history.num_rows == 20 and history.column_names == ["epoch", "loss", "accuracy"]
    epoch_metrics = [e for e in events if e.get("type") == "metrics" and e.get("kind") == "epoch"]
    assert len(epoch_metrics) == 20 and epoch_metrics[-1]["node"] == "learn"
    out = eng.output("apply")
    acc = float((out.column("prediction").to_numpy() == out.column("label").to_numpy()).mean())
    assert acc > 0.9
    assert eng.status["learn"].scalars["accuracy"] > 0.9
    net = eng.output("learn", "network")
    assert len(net.metadata["history"]) == 20
    # the input network is left untouched (the learner trains a copy)
    created = eng.output("create")
    assert not all(np.allclose(a.detach(), b.detach()) for a, b in
                   zip(created.module.parameters(), net.module.parameters()))


def test_creator_checks_what_the_code_returns():
    wf = Workflow()
    wf.add("deepnodes.python.PythonNetworkCreator", "notmod", {"script": "output_network = 3\n"})
    wf.add("deepnodes.python.PythonNetworkCreator", "shape", {"script": "output_network = nn.Linear(4, 5)\n"})
    wf.add("deepnodes.python.PythonNetworkCreator", "fails", {"script": "output_network = nn.Linear(7, 3)\n"})
    wf.add("deepnodes.python.PythonNetworkCreator", "missing", {"script": "net = nn.Linear(4, 3)\n"})
    eng, res, _ = _run(wf)
    assert _message(eng, "notmod") == "'output_network' must be a torch.nn.Module; it is a int"
    assert _message(eng, "shape") == ("'output_network' gives output 'output' the shape (5,) (without the batch); "
                                      "the node declares (3,)")
    assert _message(eng, "fails").startswith("'output_network' fails on a batch of the declared inputs "
                                             "(features (4,) float32): the script: RuntimeError")
    assert "must assign the network" in _message(eng, "missing")


def test_learner_refuses_an_all_frozen_network_and_reports_script_errors():
    wf = Workflow()
    wf.add("deepnodes.python.PythonScript", "src", {"script": IRIS_SOURCE})
    wf.add("deepnodes.python.PythonNetworkCreator", "create", {
        "script": "output_network = nn.Linear(4, 3)\nfor p in output_network.parameters():\n    p.requires_grad = False\n"})
    wf.add("deepnodes.python.PythonNetworkLearner", "learn", {})
    wf.add("deepnodes.python.PythonNetworkCreator", "create2", {})
    wf.add("deepnodes.python.PythonNetworkLearner", "learn2", {"script": "for i in range(3):\n    context.metrics({'loss': 1.0}, epoch=i, kind='epoch')\nundefined_name\n"})
    wf.connect("src", "table", "learn", "table")
    wf.connect("create", "network", "learn", "network")
    wf.connect("src", "table", "learn2", "table")
    wf.connect("create2", "network", "learn2", "network")
    eng, res, _ = _run(wf)
    assert _message(eng, "learn") == ("every layer of the input network is frozen, so training cannot change it; "
                                      "unfreeze some layers first")
    assert _message(eng, "learn2") == "line 3 of the script: NameError: name 'undefined_name' is not defined"


def test_layer_nodes_append_a_head_to_a_python_network():
    import torch

    wf = Workflow()
    wf.add("deepnodes.python.PythonNetworkCreator", "body", {
        "script": "output_network = nn.Sequential(nn.Linear(4, 8), nn.ReLU())",
        "outputs": [{"name": "hidden", "shape": [8]}]})
    wf.add("deepnodes.layers.Dense", "head", {"units": 3, "activation": "softmax"})
    wf.connect("body", "network", "head", "input")
    eng = Engine(wf)
    assert eng.configure()["head"].specs[0].outputs[0].shape == (3,)
    assert eng.run().ok, eng.status["head"].message
    net = eng.output("head")
    with torch.no_grad():
        out = net.forward(torch.rand(5, 4))[0]
    assert out.shape == (5, 3) and torch.allclose(out.sum(1), torch.ones(5))


def test_training_script_sees_stop_requests_and_reports_metrics():
    import threading

    from deepnodes.core import ExecutionContext
    from deepnodes.dl.scripted import ScriptTrainingContext, create_network, train_network
    from deepnodes.dl.spec import TensorSpec

    events: list[dict] = []
    stop = threading.Event()
    ctx = ExecutionContext("learn", events.append, threading.Event(), stop)
    net = create_network("output_network = nn.Linear(2, 1)", [TensorSpec("x", (2,))], [TensorSpec("y", (1,))])
    code = ("for epoch in range(1, 1000):\n"
            "    context.metrics({'loss': 1.0 / epoch}, epoch=epoch, kind='epoch')\n"
            "    if epoch == 3:\n"
            "        stop_button.set()\n"
            "    if context.stop_requested:\n"
            "        break\n")
    import deepnodes.dl.scripted as scripted

    orig = scripted._namespace
    scripted._namespace = lambda extra: {**orig(extra), "stop_button": stop}
    try:
        trained, history = train_network(code, net, None, None, ScriptTrainingContext(ctx))
    finally:
        scripted._namespace = orig
    assert history.column("epoch").to_pylist() == [1, 2, 3]
    assert [e["values"]["loss"] for e in events if e["type"] == "metrics"] == [1.0, 0.5, 1 / 3]
    assert trained.metadata["history"][-1]["epoch"] == 3
