"""Writes examples/finetune_pretrained.json, examples/features_xgboost.json and examples/python_network.json
(run from the repository root: `.venv/bin/python examples/build_pretrained_examples.py`). The workflow files
are the product; this script only keeps their layout readable and in one place."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepnodes.core import Workflow  # noqa: E402

HERE = Path(__file__).resolve().parent


def at(col, row):
    return (col * 230.0, row * 150.0)


def faces_split(wf: Workflow) -> None:
    """scikit-image's LFW subset (100 faces, 100 non-faces, 25×25 grayscale), split 60/40 by class."""
    wf.add("deepnodes.data.DatasetReader", "faces", {"dataset": "lfw-faces"}, "Faces vs non-faces", at(0, 0))
    wf.add("deepnodes.data.Partitioning", "split", {"method": "stratified", "column": "label", "fraction": 0.6,
                                                    "seed": 1}, "60% train / 40% test", at(1, 0))
    wf.connect("faces", "table", "split", "table")


def finetune_pretrained() -> Workflow:
    """EfficientNet-Lite0 (ImageNet) without its classifier → freeze all but its top block → new head
    (Dropout + Dense 2 softmax) → Learner (head at a 10× learning rate) → Executor → Scorer."""
    wf = Workflow("Fine-tune EfficientNet-Lite0: faces vs non-faces",
                  "Fine-tunes EfficientNet-Lite0 (ImageNet weights) to tell faces from non-faces: a new head learns faster than the pretrained body.",
                  "about 5 min on a laptop CPU")
    faces_split(wf)
    wf.add("deepnodes.dl.PretrainedNetworkReader", "pretrained", {"include_top": False},
           "EfficientNet-Lite0 (no top)", at(0, 2))
    for i, (port, name) in enumerate((("first", "train"), ("second", "test"))):
        wf.add("deepnodes.dl.PretrainedImagePreprocess", f"prep_{name}", {"crop_fraction": 1.0},
               f"{name.title()} images → 3×224×224", at(2, i))
        wf.connect("split", port, f"prep_{name}", "table")
        wf.connect("pretrained", "network", f"prep_{name}", "network")
    wf.add("deepnodes.dl.FreezeLayers", "freeze", {"mode": "all_but_last", "last_n": 1},
           "Freeze all but the top block", at(1, 2))
    wf.add("deepnodes.layers.Dropout", "dropout", {"rate": 0.2, "name": "head_dropout"}, "Dropout 0.2", at(2, 2))
    wf.add("deepnodes.layers.Dense", "dense", {"units": 2, "activation": "softmax", "name": "head"},
           "Dense 2 softmax (new head)", at(3, 2))
    wf.connect("pretrained", "network", "freeze", "network")
    wf.connect("freeze", "network", "dropout", "input")
    wf.connect("dropout", "network", "dense", "input")
    wf.add("deepnodes.dl.NetworkLearner", "learner", {
        "inputs": [{"columns": ["image"], "converter": "tensor"}],
        "targets": [{"columns": ["class_name"], "loss": "sparse_categorical_crossentropy"}],
        "epochs": 4, "batch_size": 16, "optimizer": "adam", "learning_rate": 0.0001,
        "head_layers": ["head"], "head_learning_rate": 0.001, "freeze_batchnorm": True, "seed": 1,
    }, "Network Learner", at(4, 1))
    wf.connect("dense", "network", "learner", "network")
    wf.connect("prep_train", "table", "learner", "table")
    wf.add("deepnodes.dl.NetworkExecutor", "executor", {"inputs": [{"columns": ["image"], "converter": "tensor"}]},
           "Network Executor", at(5, 1))
    wf.connect("learner", "network", "executor", "network")
    wf.connect("prep_test", "table", "executor", "table")
    wf.add("deepnodes.data.Scorer", "scorer", {"truth_column": "class_name"}, "Scorer", at(6, 1))
    wf.connect("executor", "table", "scorer", "table")
    return wf


def features_xgboost() -> Workflow:
    """EfficientNet-Lite0's 1280 pooled features of each image → XGBoost → Scorer."""
    wf = Workflow("Pretrained features + XGBoost: faces vs non-faces",
                  "Uses a pretrained CNN as a feature extractor for faces vs non-faces and trains XGBoost on the features, then scores it on held-out images.",
                  "about 1 min on a laptop CPU")
    faces_split(wf)
    wf.add("deepnodes.dl.PretrainedNetworkReader", "pretrained", {"include_top": False},
           "EfficientNet-Lite0 features (1280)", at(0, 2))
    for i, (port, name) in enumerate((("first", "train"), ("second", "test"))):
        wf.add("deepnodes.dl.PretrainedImagePreprocess", f"prep_{name}", {"crop_fraction": 1.0},
               f"{name.title()} images → 3×224×224", at(2, i))
        wf.connect("split", port, f"prep_{name}", "table")
        wf.connect("pretrained", "network", f"prep_{name}", "network")
        wf.add("deepnodes.dl.NetworkExecutor", f"features_{name}", {
            "inputs": [{"columns": ["image"], "converter": "tensor"}], "append_class": False}, f"{name.title()} features", at(3, i))
        wf.connect("pretrained", "network", f"features_{name}", "network")
        wf.connect(f"prep_{name}", "table", f"features_{name}", "table")
    wf.add("deepnodes.ml.XGBoostLearner", "xgb", {"target_column": "label", "feature_columns": ["avg_pool"],
                                                  "n_estimators": 200, "max_depth": 3, "learning_rate": 0.1,
                                                  "subsample": 0.8, "colsample_bytree": 0.5, "seed": 1},
           "XGBoost Learner", at(4, 0))
    wf.add("deepnodes.ml.XGBoostPredictor", "predict", {"prediction_column": "prediction"}, "XGBoost Predictor",
           at(5, 1))
    wf.add("deepnodes.data.Scorer", "scorer", {"truth_column": "label"}, "Scorer", at(6, 1))
    wf.connect("features_train", "table", "xgb", "table")
    wf.connect("xgb", "model", "predict", "model")
    wf.connect("features_test", "table", "predict", "table")
    wf.connect("predict", "table", "scorer", "table")
    return wf


PYTHON_CREATOR = """\
# a small CNN for 8×8 digit images, written in plain PyTorch
output_network = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Dropout(0.25),
    nn.Linear(64 * 4 * 4, 10),
)
"""

PYTHON_LEARNER = """\
# my own training loop; context.metrics feeds the learning monitor like the Network Learner's
x = column_tensor(input_table, "image", torch.float32) / 16.0      # digits are 0..16
y = column_tensor(input_table, "label", torch.int64)
xv = column_tensor(validation_table, "image", torch.float32) / 16.0
yv = column_tensor(validation_table, "label", torch.int64)
opt = torch.optim.Adam(input_network.parameters(), lr=0.002)
loss_fn = nn.CrossEntropyLoss()
epochs, batch = 10, 64
step = 0
for epoch in range(1, epochs + 1):
    input_network.train()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), batch):
        context.check_cancelled()
        idx = perm[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(input_network(x[idx]), y[idx])
        loss.backward()
        opt.step()
        step += 1
        context.metrics({"loss": loss.item()}, step=step, epoch=epoch)
    input_network.eval()
    with torch.no_grad():
        val = input_network(xv)
        val_loss = loss_fn(val, yv).item()
        val_acc = (val.argmax(1) == yv).float().mean().item()
    context.metrics({"loss": loss.item(), "val_loss": val_loss, "val_accuracy": val_acc}, epoch=epoch, kind="epoch")
    context.progress(epoch / epochs, f"epoch {epoch}: val_accuracy {val_acc:.3f}")
    if context.stop_requested:
        print("stopped by the user after epoch", epoch)
        break
print(f"final validation accuracy {val_acc:.4f}")
"""

PYTHON_EXECUTOR = """\
x = column_tensor(input_table, "image", torch.float32) / 16.0
with torch.no_grad():
    probs = torch.softmax(input_network(x), dim=1).numpy()
output_table = input_table[["label"]].copy()
output_table["prediction"] = probs.argmax(1)
output_table["probability"] = probs.max(1)
"""


def python_network() -> Workflow:
    """scikit-learn's digits → a CNN written in Python → a training loop written in Python → Python
    inference → Scorer."""
    wf = Workflow("Python network: digits with a hand-written CNN and training loop",
                  "A network and its training loop written in Python nodes, trained on the small digits dataset: how to bring your own PyTorch code into a workflow.",
                  "under 1 min")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"}, "Digits 8×8", at(0, 0))
    wf.add("deepnodes.data.Partitioning", "split", {"method": "stratified", "column": "label", "fraction": 0.7,
                                                    "seed": 1}, "70% train / 30% test", at(1, 0))
    wf.connect("digits", "table", "split", "table")
    wf.add("deepnodes.python.PythonNetworkCreator", "create", {
        "script": PYTHON_CREATOR, "inputs": [{"name": "image", "shape": [1, 8, 8]}],
        "outputs": [{"name": "logits", "shape": [10]}], "seed": 1}, "Python Network Creator", at(1, 2))
    wf.add("deepnodes.python.PythonNetworkLearner", "learn", {"script": PYTHON_LEARNER, "seed": 1},
           "Python Network Learner", at(2, 1))
    wf.add("deepnodes.python.PythonNetworkExecutor", "apply", {"script": PYTHON_EXECUTOR},
           "Python Network Executor", at(3, 1))
    wf.add("deepnodes.data.Scorer", "scorer", {"truth_column": "label"}, "Scorer", at(4, 1))
    wf.connect("create", "network", "learn", "network")
    wf.connect("split", "first", "learn", "table")
    wf.connect("split", "second", "learn", "validation")
    wf.connect("learn", "network", "apply", "network")
    wf.connect("split", "second", "apply", "table")
    wf.connect("apply", "table", "scorer", "table")
    return wf


def main() -> None:
    for name, fn in (("finetune_pretrained", finetune_pretrained), ("features_xgboost", features_xgboost),
                     ("python_network", python_network)):
        fn().save(HERE / f"{name}.json")
        print(f"wrote examples/{name}.json")


if __name__ == "__main__":
    main()
