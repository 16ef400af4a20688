"""The image-classification workflow built from Python (the examples' JSON files are written from it)."""
from __future__ import annotations

from deepnodes.core import Workflow

# the seed CNN: Conv 32 3x3 ReLU -> MaxPool 2 -> Conv 64 3x3 ReLU -> MaxPool 2 -> Flatten -> Dropout 0.5 -> Dense 10 softmax
CNN = [
    ("conv1", "deepnodes.layers.Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}),
    ("pool1", "deepnodes.layers.MaxPooling2D", {"pool_size": 2}),
    ("conv2", "deepnodes.layers.Conv2D", {"filters": 64, "kernel_size": 3, "activation": "relu"}),
    ("pool2", "deepnodes.layers.MaxPooling2D", {"pool_size": 2}),
    ("flatten", "deepnodes.layers.Flatten", {}),
    ("dropout", "deepnodes.layers.Dropout", {"rate": 0.5}),
    ("dense", "deepnodes.layers.Dense", {"units": 10, "activation": "softmax"}),
]

LEARNER = {"epochs": 12, "batch_size": 128, "optimizer": "adam", "learning_rate": 0.001, "seed": 1,
           "targets": [{"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}]}


#: the flagship's schedule (examples/image_classification.json): a one-cycle learning rate reaches >= 90% test
#: accuracy in 6 epochs, where the constant 1e-3 needed 12 (docs/benchmarks.md)
FLAGSHIP_LEARNER = {"epochs": 6, "learning_rate": 0.006, "lr_schedule": "one_cycle"}

#: the examples' titles, purposes and run-time notes (examples/image_classification.json, mnist_cnn.json)
EXAMPLE_TEXT = {
    "fashion-mnist": ("Fashion-MNIST image classification (CNN)",
                      "The flagship: a CNN built from layer nodes learns to classify Fashion-MNIST clothing images "
                      "(validation curves live), then the Executor applies it to the test set and the Scorer shows "
                      "the confusion matrix (90% accuracy).", "about 2 min on a 2-core CPU (6 epochs)"),
    "mnist": ("MNIST digits with a CNN",
              "The flagship CNN on handwritten MNIST digits (MNIST is downloaded and md5-checked on first use, or "
              "read from a local folder).", "about 10 min on a laptop CPU, plus the download"),
}


def image_classification(dataset: str = "fashion-mnist", name: str = "image_classification",
                         train: dict | None = None, test: dict | None = None, learner: dict | None = None,
                         validation: int | None = None, text: bool = False) -> Workflow:
    """Dataset Reader (train, test) -> Image to Tensor -> CNN from layer nodes -> Network Learner ->
    Network Executor -> Scorer. `validation`: that many stratified test images also feed the Learner's
    validation input (monitoring only); `text`: the example file's title, description and run time (and, for
    Fashion-MNIST, the flagship's learning-rate schedule, FLAGSHIP_LEARNER).
    Layout: the data in the top two rows, the CNN below in two rows of four (read like text), the Learner,
    Executor and Scorer to their right: about 1300 x 600, so the editor's first fit is readable at 1280 px."""
    wf = Workflow(*EXAMPLE_TEXT[dataset]) if text else Workflow(name)
    wf.add("deepnodes.data.DatasetReader", "train_data", {"dataset": dataset, "split": "train", **(train or {})},
           label="Training images", position=(0, 0))
    wf.add("deepnodes.data.DatasetReader", "test_data", {"dataset": dataset, "split": "test", **(test or {})},
           label="Test images", position=(0, 150))
    for i, src in enumerate(("train", "test")):
        wf.add("deepnodes.data.ImageToTensor", f"{src}_tensor", {"column": "image", "scale": "unit"},
               label=f"{src.title()} tensors", position=(190, 150 * i))
        wf.connect(f"{src}_data", "table", f"{src}_tensor", "table")
    wf.add("deepnodes.layers.Input", "input", {"shape": [1, 28, 28], "name": "image"}, label="Input 1×28×28",
           position=(0, 300))
    prev = "input"
    for i, (nid, typ, cfg) in enumerate(CNN, 1):  # 190 px apart: the node titles never overlap
        wf.add(typ, nid, cfg, position=(190 * (i % 4), 300 + 150 * (i // 4)))
        wf.connect(prev, "network", nid, "input")
        prev = nid
    if validation:
        wf.add("deepnodes.data.RowSampling", "val_sample",
               {"method": "stratified", "count": validation, "column": "class_name"},
               label=f"{validation:,} validation images", position=(380, 150))
        wf.connect("test_tensor", "table", "val_sample", "table")
    flagship = FLAGSHIP_LEARNER if text and dataset == "fashion-mnist" else {}
    wf.add("deepnodes.dl.NetworkLearner", "learner", {**LEARNER, **flagship, **(learner or {})}, position=(950, 150))
    wf.connect(prev, "network", "learner", "network")
    wf.connect("train_tensor", "table", "learner", "table")
    if validation:
        wf.connect("val_sample", "table", "learner", "validation")
    wf.add("deepnodes.dl.NetworkExecutor", "executor", {}, position=(1140, 300))
    wf.connect("learner", "network", "executor", "network")
    wf.connect("test_tensor", "table", "executor", "table")
    wf.add("deepnodes.data.Scorer", "scorer", {"truth_column": "class_name", "prediction_column": "prediction"},
           position=(1330, 300))
    wf.connect("executor", "table", "scorer", "table")
    return wf
