"""Feature extraction with a pretrained CNN: EfficientNet-Lite0's 1280 pooled features of 1,000 images at
224 × 224, ONNX Runtime against eager torch, measured side by side in one run.

    .venv/bin/python benchmarks/bench_features.py [--images 1000] [--batch-size 64] [--chunk 128]

The images are scikit-image's LFW subset (200 faces and non-faces, 25 × 25) prepared as the workflow does
(RGB, resized to 224 × 224, EfficientNet-Lite normalisation), repeated to the requested count. Prints images/s
for: a hand-written torch loop (inference_mode, the same module), DeepNodes' inference with the torch
backend, and with ONNX Runtime (export time reported separately: it is paid once per network and cached).
The backends run interleaved, chunk by chunk, so a shared machine's changing load affects them alike.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=128, help="images per interleaved round (all backends in turn)")
    args = ap.parse_args()

    import tempfile

    import numpy as np
    import torch

    os.environ.setdefault("DEEPNODES_CACHE", tempfile.mkdtemp(prefix="bench-features-"))
    from deepnodes.datasets import load_dataset
    from deepnodes.dl import infer
    from deepnodes.dl.pretrained import load_pretrained
    from deepnodes.table.arrow import to_numpy
    from deepnodes.table.image_prep import prepare_images

    net = load_pretrained("efficientnet-lite0", include_top=False)
    pre = net.metadata["preprocessing"]
    faces = load_dataset("lfw-faces")
    x = to_numpy(prepare_images(faces, "image", size=pre["size"], crop_fraction=1.0, mean=pre["mean"],
                                std=pre["std"]).column("image"))
    x = np.ascontiguousarray(np.resize(x, (args.images, *x.shape[1:])))  # repeat to the requested count
    xt = torch.from_numpy(x)
    n, bs = len(x), args.batch_size
    print(f"EfficientNet-Lite0 features (1280) of {n} images of 3×224×224, batch {bs}, "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs")

    chunk = max(bs, (args.chunk // bs) * bs)

    def plain_torch(xs):
        m = net.module.eval()
        out = np.empty((len(xs), 1280), np.float32)
        with torch.inference_mode():
            for lo in range(0, len(xs), bs):
                out[lo:lo + bs] = m(xs[lo:lo + bs])[0].numpy()
        return out

    def deepnodes(backend):
        return lambda xs: infer.predict(net, [xs], batch_size=bs, backend=backend)[0][0]

    t0 = time.perf_counter()
    infer.onnx_session(net, [0], [])
    export_s = time.perf_counter() - t0
    runs = (("plain torch loop", plain_torch), ("DeepNodes, torch", deepnodes("torch")),
            ("DeepNodes, ONNX Runtime", deepnodes("onnxruntime")))
    seconds = {name: 0.0 for name, _ in runs}
    outputs = {name: [] for name, _ in runs}
    # interleaved: each chunk of images goes through every backend in turn, so a change in the machine's load
    # (it is shared) hits all of them alike
    for lo in range(0, n, chunk):
        xs = xt[lo:lo + chunk]
        for name, fn in runs:
            t = time.perf_counter()
            outputs[name].append(fn(xs))
            seconds[name] += time.perf_counter() - t
    rate = {name: n / s for name, s in seconds.items()}
    for name, _ in runs:
        print(f"{name:26s} {seconds[name]:7.2f} s  {rate[name]:7.1f} images/s")
    a = np.concatenate(outputs["DeepNodes, ONNX Runtime"])
    b = np.concatenate(outputs["plain torch loop"])
    print(f"ONNX export + session (once, cached): {export_s:.1f} s; max |ONNX - torch| = {float(np.abs(a - b).max()):.2e}")
    print(f"ratio ONNX Runtime / plain torch: {rate['DeepNodes, ONNX Runtime'] / rate['plain torch loop']:.2f}x; "
          f"DeepNodes torch / plain torch: {rate['DeepNodes, torch'] / rate['plain torch loop']:.2f}x")


if __name__ == "__main__":
    main()
