"""Writes examples/cross_validation.json: `python examples/build_cross_validation.py examples/cross_validation.json`."""
import sys
from deepnodes.core import Workflow
b = Workflow("fold body")
def add(t, i, cfg, pos): b.add(t, i, cfg, position=pos)
add("deepnodes.flow.ComponentInput", "training", {"name": "training"}, (0, 0))
add("deepnodes.flow.ComponentInput", "held_out", {"name": "held_out"}, (0, 300))
add("deepnodes.data.ImageToTensor", "train_tensor", {}, (200, 0))
add("deepnodes.data.ImageToTensor", "held_tensor", {}, (200, 300))
add("deepnodes.layers.Input", "input", {"shape": [1, 8, 8], "name": "image"}, (0, 150))
add("deepnodes.layers.Conv2D", "conv", {"filters": 16, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}, (200, 150))
add("deepnodes.layers.MaxPooling2D", "pool", {}, (400, 150))
add("deepnodes.layers.Flatten", "flatten", {}, (600, 150))
add("deepnodes.layers.Dense", "dense", {"units": 10, "activation": "softmax"}, (800, 150))
add("deepnodes.dl.NetworkLearner", "learner", {"epochs": 8, "batch_size": 64, "learning_rate": 0.003, "seed": 1,
    "targets": [{"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}]}, (1000, 0))
add("deepnodes.dl.NetworkExecutor", "executor", {}, (1200, 300))
add("deepnodes.data.Scorer", "scorer", {"truth_column": "class_name"}, (1400, 150))
add("deepnodes.flow.ComponentOutput", "predictions", {"name": "predictions"}, (1400, 400))
for s, sp, t, tp in [("training", "value", "train_tensor", "table"), ("held_out", "value", "held_tensor", "table"),
                     ("input", "network", "conv", "input"), ("conv", "network", "pool", "input"),
                     ("pool", "network", "flatten", "input"), ("flatten", "network", "dense", "input"),
                     ("dense", "network", "learner", "network"), ("train_tensor", "table", "learner", "table"),
                     ("learner", "network", "executor", "network"), ("held_tensor", "table", "executor", "table"),
                     ("executor", "table", "scorer", "table"), ("executor", "table", "predictions", "value")]:
    b.connect(s, sp, t, tp)
body = b.to_json(); body.pop("format"); body.pop("name")
wf = Workflow("5-fold cross-validation of a small CNN on digits",
              "Stratified 5-fold cross-validation of a small CNN on scikit-learn's 8×8 digits (offline): "
              "predictions of every held-out fold, per-fold accuracy and its mean ± std.",
              "about a minute on a laptop CPU")
wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"}, position=(0, 0))
wf.add("deepnodes.flow.CrossValidation", "cv", {"body": body, "folds": 5, "method": "stratified",
       "class_column": "class_name", "seed": 7, "expose": {"epochs": "learner.epochs"}}, label="5-fold CV", position=(300, 0))
wf.connect("digits", "table", "cv", "table")
wf.save(sys.argv[1])
