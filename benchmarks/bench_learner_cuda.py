"""CUDA check of the learner: the example CNN on Fashion-MNIST in float32 and in mixed precision.

Trains the same network (same seed) for a few epochs each way on the 60k training table and reports
samples/s and the accuracy on the 10k test table (inference through `deepnodes.dl.infer` with torch on CUDA).
Run (on a machine with CUDA): python benchmarks/bench_learner_cuda.py [--epochs 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.bench_learner import cnn, fashion_table  # noqa: E402
from deepnodes.dl.convert import Binding, convert  # noqa: E402
from deepnodes.dl.infer import predict  # noqa: E402
from deepnodes.dl.options import TrainingOptions  # noqa: E402
from deepnodes.dl.train import LossSpec, train  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    assert torch.cuda.is_available(), "needs CUDA"
    tr, te = fashion_table("train", None), fashion_table("test", None)
    net = cnn()
    x = convert(tr, Binding(("image",)), net.spec.inputs[0])
    y = convert(tr, Binding(("class_name",), role="target"), net.spec.outputs[0])
    tx = convert(te, Binding(("image",)), net.spec.inputs[0])
    ty = convert(te, Binding(("class_name",), role="target"), net.spec.outputs[0]).data.numpy()
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    for amp in (False, True, False, True):
        opts = TrainingOptions(epochs=a.epochs, batch_size=a.batch, device="cuda", mixed_precision=amp, seed=1)
        t0 = time.perf_counter()
        res = train(net, [x], [y], opts, [LossSpec("sparse_categorical_crossentropy")])
        secs = time.perf_counter() - t0
        (p,), used = predict(res.network, [tx], batch_size=1024, device="cuda", backend="torch")
        acc = float((p.argmax(1) == ty).mean())
        sps = np.mean([h["samples_per_s"] for h in res.history])
        print(f"{'mixed precision' if amp else 'float32':<16} {a.epochs} epochs in {secs:5.1f} s "
              f"({sps:7.0f} samples/s per epoch), final loss {res.history[-1]['loss']:.4f}, test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
