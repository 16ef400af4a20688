"""The digits workflow the Ray training tests and `benchmarks/bench_ray_overhead.py` train."""
from __future__ import annotations

from deepnodes.core import Workflow

LEARNER = {"epochs": 4, "batch_size": 64, "seed": 5, "metrics_interval": 0, "learning_rate": 0.01,
           "targets": [{"columns": ["class_name"]}]}


def digits_workflow(distributed: dict | None = None, hidden: int = 32, **learner) -> Workflow:
    """digits -> 75/25 stratified partition -> Flatten -> Dense `hidden` relu -> Dense 10 softmax -> Learner
    (validation: the second partition), with `distributed` as the Learner's option group when given."""
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
                          ("hidden", "deepnodes.layers.Dense", {"units": hidden, "activation": "relu"}),
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
