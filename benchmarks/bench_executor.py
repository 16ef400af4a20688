"""Executor throughput on the example CNN at batch 1024: `deepnodes.dl.infer.predict` (backend auto) vs raw
ONNX Runtime on the same exported model file, side by side; eager torch for reference.

Target (issue 3): predict >= 0.9x raw ONNX Runtime. Both run the same .onnx file (the one predict exported and
cached) with the same thread count over the same 10,000 Fashion-MNIST test images; runs alternate and the best
of each is compared.

Run: nice -n 5 .venv/bin/python benchmarks/bench_executor.py [--rows 10000] [--repeats 5]
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
from deepnodes.dl import infer  # noqa: E402
from deepnodes.dl.convert import Binding, convert  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    tab = fashion_table("test", a.rows)
    net = cnn()
    x = convert(tab, Binding(("image",)), net.spec.inputs[0])
    n = len(x)
    # the first call exports, verifies and caches the ONNX model; later calls reuse it
    t0 = time.perf_counter()
    _, used = infer.predict(net, [x], batch_size=a.batch, device="cpu")
    first = time.perf_counter() - t0
    assert used == "onnxruntime", used
    sess = infer.onnx_session(net, [0], [])
    name = sess.get_inputs()[0].name
    xn = x.data.numpy()

    def raw():
        out = np.empty((n, 10), np.float32)
        for lo in range(0, n, a.batch):
            out[lo:lo + a.batch] = sess.run(None, {name: xn[lo:lo + a.batch]})[0]
        return out

    def ours():
        return infer.predict(net, [x], batch_size=a.batch, device="cpu")[0][0]

    def eager():
        return infer.predict(net, [x], batch_size=a.batch, backend="torch", device="cpu")[0][0]

    assert np.abs(raw() - ours()).max() < 1e-5
    times: dict[str, list[float]] = {"raw": [], "ours": [], "eager": []}
    for _ in range(a.repeats):
        for k, fn in (("raw", raw), ("ours", ours), ("eager", eager)):
            t0 = time.perf_counter()
            fn()
            times[k].append(n / (time.perf_counter() - t0))
    b, m, e = max(times["raw"]), max(times["ours"]), max(times["eager"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n} images, batch {a.batch}; "
          f"first call (export + verify + run) {first:.2f} s")
    print(f"raw ONNX Runtime {b:9.0f} rows/s   deepnodes executor {m:9.0f} rows/s   ratio {m / b:.3f}   "
          f"(eager torch {e:.0f} rows/s, ONNX Runtime {b / e:.1f}x faster)")
    print(f"target >= 0.9: {'ok' if m / b >= 0.9 else 'MISSED'}")


if __name__ == "__main__":
    main()
