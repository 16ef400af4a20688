"""Overhead of the Ray Train path over a local run of the same work (issue 13): one worker, same data, same seed.

The workflow is digits (1,797 rows, 8x8) -> 75/25 stratified partition -> Flatten -> Dense 64 relu -> Dense 10
softmax -> Network Learner, trained `--epochs` epochs with batch 64. It runs once locally and once with
`distributed: {backend: ray, workers: 1}` (with one worker the Ray run trains exactly the local run's batches,
so the work is the same), alternating `--repeats` times; Ray itself is started once before (its start-up is
reported on its own line). Reported: the Learner node's wall time (conversion, Ray Train start-up of the worker
group, training, result), the training loop's own samples/s (from the history: the in-loop cost of DDP and the
per-batch agreement on stop/cancel), and the difference.

Run: OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_ray_overhead.py [--epochs 20] [--repeats 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepnodes.core import Engine  # noqa: E402


def workflow(epochs: int, distributed: dict | None):
    from tests.ray.ray_workflows import digits_workflow

    return digits_workflow(distributed, hidden=64, epochs=epochs, metrics_interval=0.5)


def once(epochs: int, distributed: dict | None) -> tuple[float, float, float]:
    eng = Engine(workflow(epochs, distributed))
    assert not eng.run(nodes=["split", "out"]).failed
    t0 = time.perf_counter()
    res = eng.run()
    wall = time.perf_counter() - t0
    assert not res.failed, eng.status["learner"].message
    hist = eng.output("learner", "history").to_pylist()
    secs = sum(h["seconds"] for h in hist)
    sps = sum(h["seconds"] * h["samples_per_s"] for h in hist) / secs
    return wall, sps, eng.status["learner"].scalars["val_accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    from deepnodes.core.ray_runtime import connect

    t0 = time.perf_counter()
    session = connect("", num_cpus=min(2, os.cpu_count() or 1))
    print(f"local Ray start: {time.perf_counter() - t0:.1f} s")
    rows = {"local": [], "ray, 1 worker": []}
    try:
        for _ in range(a.repeats):
            rows["local"].append(once(a.epochs, None))
            rows["ray, 1 worker"].append(once(a.epochs, {"backend": "ray", "workers": 1}))
    finally:
        session.close()
    best = {k: min(v) for k, v in rows.items()}  # the best wall time of each: load hits both alike
    print(f"| path | Learner wall s ({a.epochs} epochs) | loop samples/s | val accuracy |")
    print("|---|---|---|---|")
    for k, (wall, sps, acc) in best.items():
        print(f"| {k} | {wall:.1f} | {sps:,.0f} | {acc:.3f} |")
    (lw, ls, _), (rw, rs, _) = best["local"], best["ray, 1 worker"]
    print(f"overhead of the Ray path: +{rw - lw:.1f} s wall ({rw / lw:.1f}x); in-loop samples/s {rs / ls:.2f}x local")


if __name__ == "__main__":
    main()
