"""Training on an encoded image column (PNG bytes straight from an image reader): the next batch decoded in a
background thread (`deepnodes.dl.decode_ahead`, what the Learner does) against the same batches decoded inline
before each step, and against decoding the whole column up front (Image to Tensor, scale 'none') then training.

Same rows, seed and batches in all three (the weights are equal: tests/dl/test_decode_ahead.py); alternating
repeats, best of each. Scenes: Fashion-MNIST 28x28 grayscale PNGs into the example's CNN, and the same images
enlarged to 96x96 RGB JPEGs into a small CNN (decoding a larger share of the step).

Run: nice .venv/bin/python benchmarks/bench_decode_ahead.py --rows 2000 --repeats 2 [--threads 1]
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from deepnodes.dl import decode_ahead, train as train_mod  # noqa: E402
from deepnodes.dl.convert import Binding, convert  # noqa: E402
from deepnodes.dl.network import Network  # noqa: E402
from deepnodes.dl.options import TrainingOptions  # noqa: E402
from deepnodes.dl.spec import NetworkSpec, TensorSpec  # noqa: E402
from deepnodes.table.arrow import mark  # noqa: E402
from deepnodes.table.images import image_to_tensor  # noqa: E402


class InlineFeed(decode_ahead.BatchFeed):
    """The same batches, each decoded in the loop's thread when it is due (nothing ahead)."""

    def _submit(self, b: int) -> None:
        pass


def table_of(images: np.ndarray, labels: np.ndarray, size: int, fmt: str) -> pa.Table:
    from PIL import Image

    data = []
    for im in images:
        p = Image.fromarray(im)
        if size != im.shape[0]:
            p = p.convert("RGB").resize((size, size), Image.BILINEAR)
        buf = io.BytesIO()
        p.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        data.append(buf.getvalue())
    schema = pa.schema([mark(pa.field("image", pa.binary()), "image"), pa.field("label", pa.int64())])
    return pa.Table.from_arrays([pa.array(data, pa.binary()), pa.array(labels.astype(np.int64))], schema=schema)


def cnn28():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10), nn.Softmax(-1))


def cnn96():
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(512, 10), nn.Softmax(-1))


def run(table, shape, builder, how: str, epochs: int) -> float:
    """Wall seconds of conversion + training."""
    spec = NetworkSpec((TensorSpec("image", shape),), (TensorSpec("probs", (10,)),))
    net = Network(spec, builder=lambda s: builder(), metadata={"output_activations": ["softmax"]})
    opts = TrainingOptions(epochs=epochs, batch_size=128, seed=1)
    t0 = time.perf_counter()
    if how == "up front":
        table = image_to_tensor(table, "image", size=shape[1:], mode="grayscale" if shape[0] == 1 else "rgb",
                                scale="none")
    x = [convert(table, Binding(("image",)), spec.inputs[0])]
    y = [convert(table, Binding(("label",), role="target"), spec.outputs[0])]
    real = train_mod.BatchFeed
    train_mod.BatchFeed = InlineFeed if how == "inline" else real
    try:
        train_mod.train(net, x, y, opts, [train_mod.LossSpec("sparse_categorical_crossentropy")])
    finally:
        train_mod.BatchFeed = real
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    from tests.dl.dl_data import FASHION, idx_pair

    imgs, labels = idx_pair(str(FASHION), "train")
    imgs, labels = imgs[:a.rows], labels[:a.rows]
    scenes = [("28x28 gray PNG, example CNN", table_of(imgs, labels, 28, "PNG"), (1, 28, 28), cnn28),
              ("96x96 RGB JPEG, small CNN", table_of(imgs, labels, 96, "JPEG"), (3, 96, 96), cnn96)]
    hows = ("inline", "ahead", "up front")
    print(f"{a.rows} rows x {a.epochs} epochs, batch 128, torch threads {torch.get_num_threads()}, best of "
          f"{a.repeats}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, table, shape, builder in scenes:
        secs = {h: [] for h in hows}
        for _ in range(a.repeats):
            for h in hows:
                secs[h].append(run(table, shape, builder, h, a.epochs))
        best = {h: min(v) for h, v in secs.items()}
        print(f"{name}: " + ", ".join(f"{h} {best[h]:.2f} s" for h in hows) +
              f"; ahead vs inline {best['inline'] / best['ahead']:.2f}x faster")


if __name__ == "__main__":
    main()
