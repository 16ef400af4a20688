"""Network Learner / Network Executor through the engine, on small real slices, and their bad-input errors."""
import threading

import numpy as np
import pytest

from deepnodes.core import Engine, Workflow
from tests.dl.dl_workflows import image_classification

SMALL = dict(train={"limit": 1200}, test={"limit": 400})


def small(**learner):
    return image_classification(**SMALL, learner={"epochs": 1, "batch_size": 100, **learner})


def run_ok(wf, **kw):
    eng = Engine(wf)
    res = eng.run(**kw)
    assert res.ok, {n: s.message for n, s in eng.status.items() if s.message}
    return eng


def test_learner_outputs_history_results_and_metrics():
    wf = small(epochs=2, metrics_interval=0)
    eng = Engine(wf)
    events = []
    eng.subscribe(lambda e: events.append(e) if e["type"] == "metrics" else None)
    assert eng.run(until="learner").ok
    hist = eng.output("learner", "history")
    assert hist.column("epoch").to_pylist() == [1, 2]
    assert {"loss", "accuracy", "lr", "samples_per_s"} <= set(hist.column_names)
    sc = eng.status["learner"].scalars
    assert sc["epochs"] == 2 and 0 < sc["loss"] < 2.5
    batch = [e for e in events if e["kind"] == "batch"]
    epoch = [e for e in events if e["kind"] == "epoch"]
    assert len(batch) == 24 and len(epoch) == 2  # 12 batches an epoch, metrics_interval 0: every batch
    assert {"loss", "accuracy", "lr", "samples_per_s"} <= set(batch[0]["values"])
    net = eng.output("learner", "network")
    assert net.metadata["class_names"][0] == "T-shirt/top" and net.metadata["trained"]
    # the configured history spec names the real columns
    assert [c.name for c in eng.status["learner"].specs[1].columns][:3] == ["epoch", "loss", "accuracy"]


def test_validation_table_gives_val_metrics():
    wf = small(epochs=1)
    wf.connect("test_tensor", "table", "learner", "validation")
    eng = run_ok(wf, until="learner")
    h = eng.output("learner", "history")
    assert 0 < h.column("val_accuracy")[0].as_py() <= 1 and h.column("val_loss")[0].as_py() > 0


def test_same_seed_same_weights_through_layer_nodes():
    import torch

    a = run_ok(small(), until="learner").output("learner", "network").module.state_dict()
    b = run_ok(small(), until="learner").output("learner", "network").module.state_dict()
    c = run_ok(small(seed=2), until="learner").output("learner", "network").module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_executor_backends_agree_and_extract_features():
    wf = small()
    eng = run_ok(wf)
    onnx_tab = eng.output("executor")
    # device auto: ONNX Runtime on the CPU, torch where CUDA is present
    assert eng.status["executor"].scalars["backend"] == ("torch" if _cuda() else "onnxruntime")
    wf.set_option("executor", "backend", "torch")
    wf.set_option("executor", "layers", ["flatten_1"])
    wf.set_option("executor", "outputs", ["dense_1"])
    eng.run()
    torch_tab = eng.output("executor")
    from deepnodes.table.arrow import to_numpy

    a, b = to_numpy(onnx_tab.column("dense_1")), to_numpy(torch_tab.column("dense_1"))
    assert np.abs(a - b).max() < 1e-5
    assert to_numpy(torch_tab.column("flatten_1")).shape == (400, 1600)
    assert onnx_tab.column("prediction").to_pylist() == torch_tab.column("prediction").to_pylist()
    p = onnx_tab.column("probability").to_numpy()
    assert np.allclose(p, a.max(1), atol=1e-6)
    # the executor's configured spec announces the columns it adds
    names = [c.name for c in eng.status["executor"].specs[0].columns]
    assert {"dense_1", "flatten_1", "prediction", "probability"} <= set(names)
    # one number column per unit
    wf.set_option("executor", "layers", [])
    wf.set_option("executor", "output_format", "columns")
    wf.set_option("executor", "keep_columns", False)
    eng.run(until="executor")
    t = eng.output("executor")
    assert t.column_names == [f"dense_1_{i}" for i in range(10)] + ["prediction", "probability"]


def test_stop_keeps_the_current_model():
    wf = small(epochs=50, metrics_interval=0)
    eng = Engine(wf)
    seen = []

    def on(e):
        if e["type"] == "metrics" and e["kind"] == "batch":
            seen.append(e)
            if len(seen) == 3:
                eng.request_stop("learner")
    eng.subscribe(on)
    assert eng.run(until="learner").ok
    st = eng.status["learner"]
    assert st.state == "executed" and "stopped early" in st.message
    assert eng.output("learner", "network").metadata["trained"]
    assert len(seen) < 20


def test_cancel_keeps_last_complete_model_and_reruns():
    wf = small(epochs=50, metrics_interval=0)
    eng = Engine(wf)
    seen = []

    def on(e):
        if e["type"] == "metrics" and e["kind"] == "batch":
            seen.append(e)
            if e["step"] == 15:  # 12 batches an epoch: batch 3 of epoch 2
                eng.cancel()
    eng.subscribe(on)
    res = eng.run(until="learner")
    assert res.cancelled and not res.ok
    st = eng.status["learner"]
    assert st.state == "configured" and st.partial
    hist = st.outputs[1]
    assert hist.column("epoch").to_pylist() == [1]  # the last complete epoch
    # re-runnable: a new run executes the learner again
    wf.set_option("learner", "epochs", 1)
    assert eng.run(until="learner").ok and eng.status["learner"].state == "executed"


# ---------------------------------------------------------------------------- bad input
def configure_message(wf, nid="learner"):
    eng = Engine(wf)
    eng.configure()
    return eng.status[nid].state, eng.status[nid].message


def test_wrong_column_shape_is_a_configure_error():
    wf = small()
    wf.set_option("train_tensor", "size", [14, 14])
    state, msg = configure_message(wf)
    assert state == "idle"
    assert msg == "column 'image' has rows of shape (1, 14, 14) but the network input 'image' expects (1, 28, 28)"


def test_classes_that_do_not_fit_the_output_layer():
    wf = small()
    wf.set_option("dense", "units", 5)
    state, msg = configure_message(wf)
    assert state == "idle" and msg == ("column 'class_name' has 10 classes but the network output 'dense_1' has 5 "
                                       "units; use an output layer with 10 classes")[:len(msg)] or "10 classes" in msg
    assert "10 classes" in msg and "5 units" in msg
    # an integer label column: found at execute time from the values
    wf.set_option("learner", "targets", [{"columns": ["label"], "converter": "class_index"}])
    eng = Engine(wf)
    res = eng.run(until="learner")
    assert res.failed == ["learner"]
    msg = eng.status["learner"].message
    assert "column 'label'" in msg and "has class 9" in msg and "5 units" in msg


def test_missing_target_and_unknown_output():
    wf = small()
    wf.set_option("learner", "targets", [])
    state, msg = configure_message(wf)
    assert "option 'targets': say which column holds the target" in msg
    wf.set_option("learner", "targets", [{"columns": ["nope"]}])
    state, msg = configure_message(wf)
    assert msg.startswith("column 'nope' (option 'targets') is not in the input table")
    wf.set_option("learner", "targets", [{"columns": ["label"], "network_output": "out_9"}])
    assert "the network has no output 'out_9'" in configure_message(wf)[1]


def _csv_workflow(tmp_path, text: str, learner: dict) -> Workflow:
    p = tmp_path / "rows.csv"
    p.write_text(text)
    wf = Workflow("csv")
    wf.add("deepnodes.data.CSVReader", "csv", {"path": str(p)})
    wf.add("deepnodes.layers.Input", "input", {"shape": [2], "name": "x"})
    wf.add("deepnodes.layers.Dense", "dense", {"units": 1})
    wf.connect("input", "network", "dense", "input")
    wf.add("deepnodes.dl.NetworkLearner", "learner",
           {"inputs": [{"columns": ["a", "b"]}], "targets": [{"columns": ["y"], "loss": "mse"}],
            "batch_size": 2, **learner})
    wf.connect("dense", "network", "learner", "network")
    wf.connect("csv", "table", "learner", "table")
    return wf


def test_nan_in_inputs_is_a_node_error(tmp_path):
    wf = _csv_workflow(tmp_path, "a,b,y\n1,2,3\n4,inf,2\n3,4,5\n", {"epochs": 1})
    eng = Engine(wf)
    assert eng.run().failed == ["learner"]
    assert eng.status["learner"].message.startswith("column 'a, b' (option 'inputs') has NaN or infinite values in 1 row")
    wf = _csv_workflow(tmp_path, "a,b,y\n1,2,3\n,1,2\n3,4,5\n", {"epochs": 1})
    eng = Engine(wf)
    assert eng.run().failed == ["learner"]
    assert eng.status["learner"].message.startswith("column 'a' (option 'inputs') has 1 missing value")


def test_nan_loss_is_a_node_error(tmp_path):
    rows = "a,b,y\n" + "".join(f"{i},{2 * i},{1e6 * i}\n" for i in range(40))
    wf = _csv_workflow(tmp_path, rows, {"epochs": 5, "optimizer": "sgd", "learning_rate": 1.0})
    eng = Engine(wf)
    assert eng.run().failed == ["learner"]
    assert eng.status["learner"].message.startswith("the loss became")
    assert "lower learning rate" in eng.status["learner"].message


def test_regression_on_number_columns_learns(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    rows = "a,b,y\n" + "".join(f"{x},{z},{2 * x - z + 0.5}\n" for x, z in zip(a, b))
    wf = _csv_workflow(tmp_path, rows, {"epochs": 30, "learning_rate": 0.05, "batch_size": 20})
    eng = run_ok(wf)
    h = eng.output("learner", "history").column("loss").to_pylist()
    assert h[-1] < 0.01 < h[0]
    w = eng.output("learner", "network").module.get_submodule("dense_1").weight.detach().numpy().ravel()
    assert np.allclose(w, [2, -1], atol=0.1)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
