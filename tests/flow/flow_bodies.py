"""Bodies for the component and loop tests: real nodes on small real data (scikit-learn's digits)."""
from __future__ import annotations

from deepnodes.core import Workflow

IN, OUT = "deepnodes.flow.ComponentInput", "deepnodes.flow.ComponentOutput"


def as_body(wf: Workflow) -> dict:
    data = wf.to_json()
    data.pop("format")
    data.pop("name")
    return data


def build(nodes: list[tuple[str, str, dict]], links: list[tuple[str, str, str, str]]) -> dict:
    wf = Workflow("body")
    for nid, t, cfg in nodes:
        wf.add(t, nid, cfg)
    for link in links:
        wf.connect(*link)
    return as_body(wf)


def sampling_body(fraction: float = 0.5) -> dict:
    """table -> Row Filter (digit < 5) -> Row Sampling -> sample."""
    return build([("in", IN, {"name": "table"}),
                  ("small", "deepnodes.data.RowFilter", {"column": "label", "operator": "<", "value": "5"}),
                  ("samp", "deepnodes.data.RowSampling", {"fraction": fraction, "seed": 3}),
                  ("out", OUT, {"name": "sample"})],
                 [("in", "value", "small", "table"), ("small", "table", "samp", "table"),
                  ("samp", "table", "out", "value")])


def cheap_fold_body() -> dict:
    """A CV body without training: predictions = the held-out rows, the training rows sampled beside."""
    return build([("training", IN, {"name": "training"}), ("held_out", IN, {"name": "held_out"}),
                  ("tsamp", "deepnodes.data.RowSampling", {"fraction": 0.5, "seed": 1}),
                  ("hsamp", "deepnodes.data.RowSampling", {"fraction": 1.0}),
                  ("train_out", OUT, {"name": "train_sample"}), ("predictions", OUT, {"name": "predictions"})],
                 [("training", "value", "tsamp", "table"), ("tsamp", "table", "train_out", "value"),
                  ("held_out", "value", "hsamp", "table"), ("hsamp", "table", "predictions", "value")])


def dense_fold_body(epochs: int = 1) -> dict:
    """A CV body that trains a small dense net on the training rows and scores the held-out rows."""
    return build([("training", IN, {"name": "training"}), ("held_out", IN, {"name": "held_out"}),
                  ("tt", "deepnodes.data.ImageToTensor", {}), ("ht", "deepnodes.data.ImageToTensor", {}),
                  ("input", "deepnodes.layers.Input", {"shape": [1, 8, 8], "name": "image"}),
                  ("flatten", "deepnodes.layers.Flatten", {}),
                  ("dense", "deepnodes.layers.Dense", {"units": 10, "activation": "softmax"}),
                  ("learner", "deepnodes.dl.NetworkLearner",
                   {"epochs": epochs, "batch_size": 64, "learning_rate": 0.01, "seed": 1,
                    "targets": [{"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}]}),
                  ("executor", "deepnodes.dl.NetworkExecutor", {}),
                  ("scorer", "deepnodes.data.Scorer", {"truth_column": "class_name"}),
                  ("predictions", OUT, {"name": "predictions"})],
                 [("training", "value", "tt", "table"), ("held_out", "value", "ht", "table"),
                  ("input", "network", "flatten", "input"), ("flatten", "network", "dense", "input"),
                  ("dense", "network", "learner", "network"), ("tt", "table", "learner", "table"),
                  ("learner", "network", "executor", "network"), ("ht", "table", "executor", "table"),
                  ("executor", "table", "scorer", "table"), ("executor", "table", "predictions", "value")])


def outer(holder_type: str, config: dict, holder: str = "comp", in_port: str = "table") -> Workflow:
    wf = Workflow("outer")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"})
    wf.add(holder_type, holder, config)
    wf.connect("digits", "table", holder, in_port)
    return wf


def executing(events: list[dict], prefix: str) -> list[str]:
    """The inner nodes (path `prefix/...`) that started executing, in order."""
    return [e["node"] for e in events if e.get("type") == "state" and e.get("state") == "executing"
            and str(e.get("node", "")).startswith(prefix + "/")]


def holdout_body() -> dict:
    """table -> stratified 70/30 split -> a small dense net trained on 70 % -> Scorer on 30 % -> scores."""
    return build([("in", IN, {"name": "table"}),
                  ("part", "deepnodes.data.Partitioning",
                   {"fraction": 0.7, "method": "stratified", "column": "class_name", "seed": 1}),
                  ("tt", "deepnodes.data.ImageToTensor", {}), ("ht", "deepnodes.data.ImageToTensor", {}),
                  ("input", "deepnodes.layers.Input", {"shape": [1, 8, 8], "name": "image"}),
                  ("flatten", "deepnodes.layers.Flatten", {}),
                  ("dense", "deepnodes.layers.Dense", {"units": 10, "activation": "softmax"}),
                  ("learner", "deepnodes.dl.NetworkLearner",
                   {"epochs": 1, "batch_size": 64, "seed": 1,
                    "targets": [{"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}]}),
                  ("executor", "deepnodes.dl.NetworkExecutor", {}),
                  ("scorer", "deepnodes.data.Scorer", {"truth_column": "class_name"}),
                  ("out", OUT, {"name": "scores"})],
                 [("in", "value", "part", "table"), ("part", "first", "tt", "table"),
                  ("part", "second", "ht", "table"), ("input", "network", "flatten", "input"),
                  ("flatten", "network", "dense", "input"), ("dense", "network", "learner", "network"),
                  ("tt", "table", "learner", "table"), ("learner", "network", "executor", "network"),
                  ("ht", "table", "executor", "table"), ("executor", "table", "scorer", "table"),
                  ("scorer", "overall", "out", "value")])
