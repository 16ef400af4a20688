"""Issue 17 §5 (and the NaN bullet of §2): deep-learning semantics a Keras user can rely on.

Early stopping and reduce-LR-on-plateau are compared with Keras 3's own callbacks on the same metric
sequences (property-based); the rest runs the Learner on small real data."""
from __future__ import annotations

import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepnodes.dl.callbacks import EarlyStopping, ReduceLROnPlateau

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras") if not os.environ.get("CI") else __import__("keras")


class _Opt:
    def __init__(self, lr):
        self.param_groups = [{"lr": lr}]


class _Loop:
    def __init__(self, lr=0.1):
        self.optimizer = _Opt(lr)
        self.stop = ""
        self.lines = []

    def log(self, line):
        self.lines.append(line)


class _KerasModel:
    """What Keras' callbacks touch of a model: stop_training, the optimizer's learning rate, weights."""

    def __init__(self, lr):
        self.stop_training = False
        self.optimizer = type("O", (), {"learning_rate": lr})()

    def get_weights(self):
        return []

    def set_weights(self, w):
        pass


values = st.lists(st.one_of(st.floats(0, 10, allow_nan=False), st.sampled_from([1.0, 2.0, 0.5])), min_size=1,
                  max_size=25)


def _keras_early_stop(seq, patience, min_delta, mode):
    cb = keras.callbacks.EarlyStopping(monitor="m", patience=patience, min_delta=min_delta, mode=mode)
    cb.set_model(_KerasModel(0.1))
    cb.on_train_begin()
    for e, v in enumerate(seq):
        cb.on_epoch_end(e, {"m": v})
        if cb.model.stop_training:
            return e + 1
    return None


def _ours_early_stop(seq, patience, min_delta, metric):
    cb = EarlyStopping(metric, patience, min_delta)
    loop = _Loop()
    for e, v in enumerate(seq, start=1):
        cb.on_epoch_end(loop, e, {metric: v})
        if loop.stop:
            return e
    return None


@settings(max_examples=400, deadline=None)
@given(seq=values, patience=st.integers(0, 5), min_delta=st.sampled_from([0.0, 0.01, 0.3, 2.0]),
       maximize=st.booleans())
def test_early_stopping_stops_at_the_same_epoch_as_keras(seq, patience, min_delta, maximize):
    metric = "val_accuracy" if maximize else "val_loss"
    assert _ours_early_stop(seq, patience, min_delta, metric) == \
        _keras_early_stop(seq, patience, min_delta, "max" if maximize else "min")


@settings(max_examples=400, deadline=None)
@given(seq=values, patience=st.integers(0, 4), min_delta=st.sampled_from([0.0, 0.01, 0.3]),
       factor=st.sampled_from([0.1, 0.5]), min_lr=st.sampled_from([0.0, 0.01]), maximize=st.booleans())
def test_reduce_lr_on_plateau_reduces_at_the_same_epochs_as_keras(seq, patience, min_delta, factor, min_lr, maximize):
    metric = "accuracy" if maximize else "loss"
    k = keras.callbacks.ReduceLROnPlateau(monitor="m", factor=factor, patience=patience, min_delta=min_delta,
                                          min_lr=min_lr, mode="max" if maximize else "min")
    km = _KerasModel(0.1)
    k.set_model(km)
    k.on_train_begin()
    ours = ReduceLROnPlateau(metric, factor, patience, min_lr, min_delta)
    loop = _Loop(0.1)
    for e, v in enumerate(seq):
        k.on_epoch_end(e, {"m": v})
        ours.on_epoch_end(loop, e + 1, {metric: v})
        assert loop.optimizer.param_groups[0]["lr"] == pytest.approx(float(km.optimizer.learning_rate), rel=1e-6), e


def test_the_examples_patience_counts_like_keras():
    # one improvement, then two epochs without: patience 2 stops after epoch 3 (not 4)
    assert _ours_early_stop([1.0, 1.5, 1.6, 1.7, 1.8], 2, 0.0, "val_loss") == 3
    assert _keras_early_stop([1.0, 1.5, 1.6, 1.7, 1.8], 2, 0.0, "min") == 3


# --------------------------------------------------------------------------- the Learner on real data
from deepnodes.core import Engine, Workflow  # noqa: E402
from deepnodes.dl.network import Network  # noqa: E402
from deepnodes.dl.options import TrainingOptions  # noqa: E402
from deepnodes.dl.optim import make_optimizer  # noqa: E402


def _digits_workflow(learner: dict, layers=None, limit=240) -> Workflow:
    wf = Workflow("semantics")
    wf.add("deepnodes.data.DatasetReader", "data", {"dataset": "digits", "limit": limit})
    wf.add("deepnodes.data.ImageToTensor", "tensor", {"column": "image", "scale": "unit"})
    wf.connect("data", "table", "tensor", "table")
    wf.add("deepnodes.layers.Input", "input", {"shape": [1, 8, 8], "name": "image"})
    prev = "input"
    for nid, typ, cfg in layers or [("flatten", "deepnodes.layers.Flatten", {}),
                                    ("dense", "deepnodes.layers.Dense", {"units": 10, "activation": "softmax"})]:
        wf.add(typ, nid, cfg)
        wf.connect(prev, "network", nid, "input")
        prev = nid
    wf.add("deepnodes.dl.NetworkLearner", "learner", {"batch_size": 32, "seed": 1, "metrics_interval": 0,
                                                      "targets": [{"columns": ["class_name"]}], **learner})
    wf.connect(prev, "network", "learner", "network")
    wf.connect("tensor", "table", "learner", "table")
    return wf


def test_adamw_with_weight_decay_zero_has_no_decay():
    p = torch.nn.Parameter(torch.ones(3))
    for wd in (0.0, 0.05):
        opt = make_optimizer(TrainingOptions(optimizer="adamw", weight_decay=wd), [{"params": [p]}])
        assert opt.param_groups[0]["weight_decay"] == wd


def test_with_keep_best_the_reported_results_are_those_of_the_returned_model():
    # a min_delta no later epoch can beat: epoch 1 stays the best and its weights are returned
    wf = _digits_workflow({"epochs": 3, "keep_best": True, "monitor": "loss", "min_delta": 1e9})
    eng = Engine(wf)
    assert not eng.run().failed
    hist = eng.output("learner", "history").to_pylist()
    scalars = eng.status["learner"].scalars
    assert scalars["loss"] == pytest.approx(hist[0]["loss"], abs=1e-6)
    assert scalars["loss"] != pytest.approx(hist[2]["loss"], abs=1e-6)
    assert scalars["best_epoch"] == 1


def _weights(net) -> dict:
    return {k: v.clone() for k, v in net.module.state_dict().items()}


def test_a_nan_loss_keeps_the_last_good_model_as_partial_output_and_says_so():
    layers = [("flatten", "deepnodes.layers.Flatten", {}), ("dense", "deepnodes.layers.Dense", {"units": 1})]
    opts = {"optimizer": "sgd", "learning_rate": 0.3, "batch_size": 24, "shuffle": False,
            "targets": [{"columns": ["label"], "converter": "numbers", "loss": "mse"}]}
    eng = Engine(_digits_workflow({"epochs": 10, **opts}, layers))
    res = eng.run()
    st = eng.status["learner"]
    assert res.failed == ["learner"]
    assert "the loss became inf in epoch 3" in st.message and "the model after epoch 2 is kept" in st.message
    assert st.partial and st.outputs is not None
    net, hist = st.outputs
    assert [h["epoch"] for h in hist.to_pylist()] == [1, 2]
    two = Engine(_digits_workflow({"epochs": 2, **opts}, layers))
    assert not two.run().failed
    good = _weights(two.output("learner", "network"))
    kept = _weights(net)
    assert all(torch.equal(good[k], kept[k]) for k in good)  # exactly the model after epoch 2


def test_time_distributed_softmax_is_known_as_probabilities():
    from deepnodes.dl.convert import output_activation

    wf = Workflow("td")
    wf.add("deepnodes.layers.Input", "input", {"shape": [4, 3], "name": "seq"})
    wf.add("deepnodes.layers.TimeDistributed", "td", {"layer": "Dense",
                                                      "layer_config": {"units": 5, "activation": "softmax"}})
    wf.connect("input", "network", "td", "input")
    wf.add("deepnodes.layers.Reshape", "flat", {"target_shape": [20]})
    wf.connect("td", "network", "flat", "input")
    eng = Engine(wf)
    assert not eng.run().failed
    assert output_activation(eng.output("td", "network"), 0) == "softmax"
    assert output_activation(eng.output("flat", "network"), 0) == "softmax"  # a reshape keeps the values


def test_an_imported_keras_model_records_its_output_activations(tmp_path):
    from deepnodes.dl.formats.keras import import_keras

    i = keras.Input((4,))
    h = keras.layers.Dense(8, activation="relu")(i)
    model = keras.Model(i, [keras.layers.Dense(3, activation="softmax")(h), keras.layers.Dense(1)(h)])
    model.save(tmp_path / "m.keras")
    net = import_keras(tmp_path / "m.keras")
    assert net.metadata["output_activations"] == ["softmax", "linear"]


def test_the_learner_refuses_to_guess_probabilities_or_logits_of_an_imported_network(tmp_path):
    from deepnodes.dl.losses import LossSpec, TrainingError, from_logits
    from deepnodes.dl.pretrained import load_torch_module_file
    from deepnodes.dl.train import train

    with pytest.raises(TrainingError, match="probabilities or logits is not recorded.*targets.from_logits"):
        from_logits(LossSpec("sparse_categorical_crossentropy"), None, "logits")
    assert from_logits(LossSpec("sparse_categorical_crossentropy", from_logits=True), None) is True
    assert from_logits(LossSpec("mse"), None) is True  # a regression loss does not depend on it

    module = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)))
    torch.jit.save(module, str(tmp_path / "net.pt"))
    net = load_torch_module_file(str(tmp_path / "net.pt"), [1, 8, 8], "image", "float32", False)
    assert "output_activations" not in net.metadata  # a file from elsewhere does not say
    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 10
    with pytest.raises(TrainingError, match="not recorded"):
        train(net, [x], [y], TrainingOptions(epochs=1), [LossSpec("sparse_categorical_crossentropy")])
    net.metadata["output_activations"] = ["linear"]  # what the Network Reader's option 'output_activation' records
    r = train(net, [x], [y], TrainingOptions(epochs=1), [LossSpec("sparse_categorical_crossentropy")])
    assert r.epochs_done == 1


def test_the_reader_option_records_the_output_activation(tmp_path):
    module = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(-1)))
    torch.jit.save(module, str(tmp_path / "net.pt"))
    for option, want in (("recorded", None), ("softmax", ["softmax"]), ("linear", ["linear"])):
        wf = Workflow("reader")
        wf.add("deepnodes.dl.TorchModuleReader", "r", {"path": str(tmp_path / "net.pt"), "input_shape": [4],
                                                       "output_activation": option})
        eng = Engine(wf)
        assert not eng.run().failed, eng.status["r"].message
        assert eng.output("r", "network").metadata.get("output_activations") == want


def test_the_executor_applies_softmax_only_to_logits():
    import numpy as np
    import pyarrow as pa

    from deepnodes.dl.infer import predictions_table
    from deepnodes.dl.spec import NetworkSpec, TensorSpec

    spec = NetworkSpec((TensorSpec("x", (3,)),), (TensorSpec("y", (3,)),))
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    t = pa.table({"i": [0, 1]})
    soft = np.exp(probs) / np.exp(probs).sum(1, keepdims=True)
    for act, want in (("softmax", [0.7, 0.8]), ("linear", list(soft.max(1)))):
        net = Network(spec, metadata={"output_activations": [act], "class_names": ["a", "b", "c"]})
        out = predictions_table(t, net, [probs], ["y"], [0])
        assert out.column("probability").to_pylist() == pytest.approx(want, rel=1e-5)
        assert out.column("prediction").to_pylist() == ["a", "c"]
    warned = []
    net = Network(spec, metadata={"class_names": ["a", "b", "c"]})  # not recorded: no probability is made up
    out = predictions_table(t, net, [probs], ["y"], [0], warn=warned.append)
    assert out.column("probability").null_count == 2 and out.column("prediction").to_pylist() == ["a", "c"]
    assert warned and "not recorded" in warned[0]


def _iris_learner(units: int):
    import threading

    from deepnodes.core.node import ExecutionContext
    from deepnodes.dl.spec import NetworkSpec, TensorSpec
    from deepnodes.nodes.dl.learner import NetworkLearner

    spec = NetworkSpec((TensorSpec("features", (4,)),), (TensorSpec("species", (units,)),))
    net = Network(spec, module=torch.nn.Sequential(torch.nn.Linear(4, units), torch.nn.Softmax(-1)),
                  metadata={"output_activations": ["softmax"]})
    learner = NetworkLearner({"epochs": 1, "targets": [{"columns": ["species"]}], "inputs": [
        {"columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"]}]})
    return learner, net, ExecutionContext("learner", lambda e: None, threading.Event())


def test_a_class_missing_from_the_training_rows_keeps_its_name_and_index(iris):
    import pyarrow.compute as pc

    train_rows = iris.filter(pc.not_equal(iris.column("species"), "versicolor"))
    learner, net, ctx = _iris_learner(3)
    trained, _ = learner.execute([net, train_rows, iris], ctx)  # versicolor only in the validation rows
    assert trained.metadata["class_names"] == ["setosa", "versicolor", "virginica"]


def test_an_output_size_that_does_not_match_the_classes_is_an_error(iris):
    from deepnodes.core import NodeError
    from deepnodes.dl.convert import Binding, check_binding
    from deepnodes.dl.spec import TensorSpec
    from deepnodes.table.spec import ColumnError, ColumnSpec, TableSpec

    spec = TableSpec((ColumnSpec("c", "category", "string", categories=("a", "b", "c")),))
    for units in (2, 4):  # configure time: a category column knows its classes
        with pytest.raises(ColumnError, match=f"3 classes but the network output 'y' has {units} units"):
            check_binding(spec, Binding(("c",), role="target", option="targets"), TensorSpec("y", (units,)))
    learner, net, ctx = _iris_learner(4)  # execute time: a string column's classes are known from its rows
    with pytest.raises(NodeError, match="'species' has 3 classes .* output 'species' has 4 units"):
        learner.execute([net, iris, None], ctx)


IRIS_SCRIPT = """\
from sklearn.datasets import load_iris
d = load_iris()
output_table = pd.DataFrame(d.data, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
output_table["species"] = np.array(d.target_names)[d.target]
"""


def test_a_learner_on_a_python_network_asks_what_its_outputs_are():
    script = "output_network = nn.Sequential(nn.Linear(4, 3), nn.Softmax(-1))"
    for option in ("recorded", "softmax"):
        wf = Workflow("python")
        wf.add("deepnodes.python.PythonNetworkCreator", "net", {"script": script, "output_activation": option,
                                                                "outputs": [{"name": "species", "shape": [3]}]})
        wf.add("deepnodes.python.PythonScript", "rows", {"script": IRIS_SCRIPT, "deterministic": True})
        wf.add("deepnodes.dl.NetworkLearner", "learner", {"epochs": 1, "targets": [{"columns": ["species"]}],
                                                          "inputs": [{"columns": ["sepal_length", "sepal_width",
                                                                                  "petal_length", "petal_width"]}]})
        wf.connect("net", "network", "learner", "network")
        wf.connect("rows", "table", "learner", "table")
        eng = Engine(wf)
        res = eng.run()
        msg = eng.status["learner"].message
        if option == "recorded":
            assert res.failed == ["learner"] and "probabilities or logits is not recorded" in msg, msg
            assert "\n" not in msg
        else:
            assert not res.failed, msg


# --------------------------------------------------------------------------- recorded, never guessed (properties)
ACTS = ["softmax", "sigmoid", "linear", "relu", "tanh"]
PASS = ["Reshape", "Flatten", "Dropout", "GaussianNoise", "Permute", "Masking"]


@settings(max_examples=200, deadline=None)
@given(act=st.sampled_from(ACTS), wrap=st.booleans(), passes=st.lists(st.sampled_from(PASS), max_size=4),
       tail=st.sampled_from([None, "Dense", "module"]))
def test_the_activation_ending_an_output_is_read_through_shape_only_layers(act, wrap, passes, tail):
    from deepnodes.dl.convert import output_activation
    from deepnodes.dl.spec import LayerEntry, NetworkSpec, TensorSpec

    t = TensorSpec("x", (4, 3))
    head = LayerEntry("head", "TimeDistributed", {"layer": "Dense", "layer_config": {"units": 3, "activation": act}},
                      ("input",), (t,)) if wrap else LayerEntry("head", "Dense", {"units": 3, "activation": act},
                                                                ("input",), (t,))
    layers = [LayerEntry("input", "Input", {}, (), (t,)), head]
    for i, kind in enumerate(passes):
        layers.append(LayerEntry(f"p{i}", kind, {}, (layers[-1].name,), (t,)))
    want = act
    if tail == "Dense":
        layers.append(LayerEntry("last", "Dense", {"units": 3}, (layers[-1].name,), (t,)))
        want = "linear"
    elif tail == "module":  # an opaque module at the end: nobody knows what it ends with
        layers.append(LayerEntry("last", "module", {}, (layers[-1].name,), (t,)))
        want = None
    spec = NetworkSpec((TensorSpec("input", (4, 3)),), (TensorSpec("y", (4, 3)),), tuple(layers),
                       (layers[-1].name,))
    assert output_activation(Network(spec), 0) == want


@settings(max_examples=100, deadline=None)
@given(loss=st.sampled_from(["mse", "mae", "huber", "categorical_crossentropy", "sparse_categorical_crossentropy",
                             "binary_crossentropy", "kl_divergence", "poisson", "cosine_similarity"]),
       act=st.sampled_from([None] + ACTS), given_=st.sampled_from([None, True, False]))
def test_from_logits_is_the_users_word_or_the_recorded_activation_never_a_guess(loss, act, given_):
    from deepnodes.dl.losses import KIND_LOSSES, LossSpec, TrainingError, from_logits

    spec = LossSpec(loss, from_logits=given_)
    if given_ is not None:
        assert from_logits(spec, act) is given_
    elif act is None and loss in KIND_LOSSES:
        with pytest.raises(TrainingError, match="not recorded"):
            from_logits(spec, act)
    elif act is not None:
        probs = "sigmoid" if loss == "binary_crossentropy" else "softmax"
        assert from_logits(spec, act) is (act != probs)
