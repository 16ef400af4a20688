"""A tiny served workflow for the service tests: 8×8 digits, a one-layer network trained for 1 epoch."""
from __future__ import annotations

import base64

import numpy as np

from deepnodes.core import Workflow, registry
from deepnodes.table.arrow import encode_png


def png_b64(img: np.ndarray) -> str:
    return base64.b64encode(encode_png(np.asarray(img, dtype=np.uint8))).decode()


def digit_images(n: int = 8) -> tuple[np.ndarray, list[int]]:
    """Real rows: the first `n` scikit-learn digits as 8×8 uint8 images, with their labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.rint(d.images[:n] * (255.0 / 16.0)).clip(0, 255).astype(np.uint8), [int(t) for t in d.target[:n]]


def build(extra_columns: bool = False) -> Workflow:
    registry.discover()
    wf = Workflow("digits service")
    wf.add("deepnodes.data.DatasetReader", "train", {"dataset": "digits", "limit": 400})
    wf.add("deepnodes.data.ImageToTensor", "train_tensor", {})
    wf.add("deepnodes.layers.Input", "input", {"shape": [1, 8, 8], "name": "image"})
    wf.add("deepnodes.layers.Flatten", "flatten", {})
    wf.add("deepnodes.layers.Dense", "dense", {"units": 10, "activation": "softmax"})
    wf.add("deepnodes.dl.NetworkLearner", "learner", {
        "epochs": 1, "seed": 1, "batch_size": 32,
        "targets": [{"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}]})
    img, _ = digit_images(1)
    cols = [{"name": "image", "kind": "image", "shape": [8, 8], "description": "an 8×8 grayscale digit"}]
    example = {"image": png_b64(img[0])}
    if extra_columns:
        cols += [{"name": "note", "kind": "string"}, {"name": "weight", "kind": "number"}]
        example.update(note="a", weight=1.0)
    wf.add("deepnodes.service.ServiceInput", "request", {"columns": cols, "example": example, "max_rows": 64})
    wf.add("deepnodes.data.ImageToTensor", "request_tensor", {"mode": "grayscale"})
    wf.add("deepnodes.dl.NetworkExecutor", "executor", {"keep_columns": False})
    wf.add("deepnodes.service.ServiceOutput", "response", {"columns": ["prediction", "probability"]})
    for a, b in [("train", "train_tensor"), ("input", "flatten"), ("flatten", "dense")]:
        wf.connect(a, 0, b, 0)
    wf.connect("dense", "network", "learner", "network")
    wf.connect("train_tensor", "table", "learner", "table")
    wf.connect("learner", "network", "executor", "network")
    wf.connect("request", "table", "request_tensor", "table")
    wf.connect("request_tensor", "table", "executor", "table")
    wf.connect("executor", "table", "response", "table")
    return wf
