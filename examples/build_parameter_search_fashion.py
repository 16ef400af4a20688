"""Writes examples/parameter_search_fashion.json:
`python examples/build_parameter_search_fashion.py examples/parameter_search_fashion.json`."""
import sys

from deepnodes.core import Workflow

IN, OUT = "deepnodes.flow.ComponentInput", "deepnodes.flow.ComponentOutput"
body = Workflow("body")
for nid, t, cfg in [
    ("in", IN, {"name": "table"}),
    ("part", "deepnodes.data.Partitioning", {"fraction": 0.75, "method": "stratified", "column": "class_name",
                                             "seed": 1}),
    ("train_tensor", "deepnodes.data.ImageToTensor", {}), ("held_tensor", "deepnodes.data.ImageToTensor", {}),
    ("input", "deepnodes.layers.Input", {"shape": [1, 28, 28], "name": "image"}),
    ("conv", "deepnodes.layers.Conv2D", {"filters": 16, "activation": "relu"}),
    ("pool", "deepnodes.layers.MaxPooling2D", {}),
    ("flatten", "deepnodes.layers.Flatten", {}),
    ("dropout", "deepnodes.layers.Dropout", {"rate": 0.25}),
    ("dense", "deepnodes.layers.Dense", {"units": 10, "activation": "softmax"}),
    ("learner", "deepnodes.dl.NetworkLearner", {
        "epochs": 4, "batch_size": 64, "seed": 1,
        "targets": [{"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}]}),
    ("executor", "deepnodes.dl.NetworkExecutor", {}),
    ("scorer", "deepnodes.data.Scorer", {"truth_column": "class_name"}),
    ("out", OUT, {"name": "scores"}),
]:
    body.add(t, nid, cfg)
for link in [("in", "value", "part", "table"), ("part", "first", "train_tensor", "table"),
             ("part", "second", "held_tensor", "table"), ("input", "network", "conv", "input"),
             ("conv", "network", "pool", "input"), ("pool", "network", "flatten", "input"),
             ("flatten", "network", "dropout", "input"), ("dropout", "network", "dense", "input"),
             ("dense", "network", "learner", "network"), ("train_tensor", "table", "learner", "table"),
             ("learner", "network", "executor", "network"), ("held_tensor", "table", "executor", "table"),
             ("executor", "table", "scorer", "table"), ("scorer", "overall", "out", "value")]:
    body.connect(*link)
data = body.to_json()
wf = Workflow("TPE search of a Fashion-MNIST CNN on a slice, with pruning",
              "Optuna's TPE searches the learning rate, the filters and the dropout of a small CNN on 3,000 "
              "Fashion-MNIST training images (held-out accuracy on a stratified quarter), pruning trials that are "
              "clearly worse after an epoch; trials table and best configuration "
              "(then `deepnodes apply-best FILE --node search`).",
              "a few minutes on a laptop CPU")
wf.add("deepnodes.data.DatasetReader", "fashion", {"dataset": "fashion-mnist", "split": "train", "limit": 3000},
       position=(0, 0))
wf.add("deepnodes.flow.ParameterSearch", "search", {
    "body": {"nodes": data["nodes"], "connections": data["connections"]},
    "objective": "scorer.accuracy", "direction": "maximize", "strategy": "tpe", "trials": 10, "seed": 3,
    "pruning": True, "prune_on": "learner.accuracy",
    "space": {"learning_rate": {"option": "learner.learning_rate", "low": 0.0003, "high": 0.03, "log": True},
              "filters": {"option": "conv.filters", "kind": "int", "low": 8, "high": 32},
              "dropout": {"option": "dropout.rate", "low": 0.0, "high": 0.5}}},
    label="Parameter search", position=(300, 0))
wf.connect("fashion", "table", "search", "table")
wf.save(sys.argv[1])
