"""Small real model and network files of every format DeepNodes reads, and their readers (for the trust tests).

`make_samples(folder)` writes them; `READERS[fmt](path)` reads one the way the reader nodes do and returns
something usable (`use` runs it on a tiny input), so a test can check a damaged file either loads and works or
fails with one sentence.
"""
from __future__ import annotations

import os
from pathlib import Path


FORMATS = ("native", "onnx", "torchscript", "keras", "h5", "xgboost", "skops")
FILES = {"native": "net.dnn", "onnx": "net.onnx", "torchscript": "net.pt", "keras": "net.keras", "h5": "net.h5",
         "xgboost": "model.json", "skops": "model.skops"}


def small_network(seed: int = 0):
    import torch

    from deepnodes.dl.build import build_network
    from deepnodes.dl.layers import get_layer
    from deepnodes.dl.network import Network
    from deepnodes.dl.spec import LayerEntry, NetworkSpec

    layers = []
    cfg, outs = get_layer("Input").infer("x", [], {"shape": [4]})
    layers.append(LayerEntry("x", "Input", cfg, (), outs))
    cfg, outs2 = get_layer("Dense").infer("dense_1", [outs[0]], {"units": 3, "activation": "relu"})
    layers.append(LayerEntry("dense_1", "Dense", cfg, ("x",), outs2))
    spec = NetworkSpec((outs[0],), (outs2[0],), tuple(layers), ("dense_1",))
    net = Network(spec, metadata={"seed": seed})
    torch.manual_seed(seed)
    return Network(spec, module=build_network(net, seed=seed), metadata={"seed": seed})


def _table():
    import pyarrow as pa
    from sklearn.datasets import load_iris

    d = load_iris()
    return pa.table({**{f"f{i}": d.data[:, i] for i in range(4)}, "y": d.target.astype("int64")})


def make_samples(folder: Path) -> dict[str, Path]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    from deepnodes.dl.formats.native import save_network
    from deepnodes.dl.formats.onnx import export_onnx
    from deepnodes.dl.formats.torchscript import export_torchscript
    from deepnodes.ml.fit import fit_sklearn, fit_xgboost
    from deepnodes.ml.model import write_file

    folder.mkdir(parents=True, exist_ok=True)
    out = {f: folder / FILES[f] for f in FORMATS}
    net = small_network()
    save_network(net, out["native"])
    export_onnx(net, out["onnx"])
    export_torchscript(net, out["torchscript"])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    model.save(out["keras"])
    model.save(out["h5"])
    t = _table()
    xgb_model, _ = fit_xgboost(t, "y", params={"n_estimators": 3, "max_depth": 2, "n_jobs": 1}, seed=0)
    write_file(xgb_model, out["xgboost"])
    write_file(fit_sklearn(t, "y", "logistic_regression"), out["skops"])
    return out


def read(fmt: str, path: Path):
    """Read like the reader nodes do (trust off)."""
    if fmt == "native":
        from deepnodes.dl.formats.native import load_network

        return load_network(path)
    if fmt == "onnx":
        from deepnodes.dl.formats.onnx import import_onnx

        return import_onnx(path)
    if fmt == "torchscript":
        from deepnodes.dl.formats.torchscript import import_torchscript

        return import_torchscript(path)
    if fmt in ("keras", "h5"):
        from deepnodes.dl.formats.keras import import_keras

        return import_keras(path)
    from deepnodes.ml.model import read_file

    return read_file(path)


def use(fmt: str, obj) -> None:
    """Run what was read on a tiny input (a file that loads must also work)."""
    if fmt in ("xgboost", "skops"):
        from deepnodes.ml.fit import predict

        predict(obj, _table().slice(0, 5))
        return
    import torch

    xs = [torch.rand(2, *[d or 3 for d in t.shape]) for t in obj.spec.inputs]
    ys = obj.forward(*xs)
    assert len(ys) == len(obj.spec.outputs)
    assert all(isinstance(y, torch.Tensor) for y in ys)
