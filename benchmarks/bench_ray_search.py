"""Parameter Search on Ray Tune against the local backend (issue 13): the same search, the same seed.

examples/parameter_search.json (TPE over learning rate and batch size of a dense net on digits, pruning on) runs
`--trials` trials once with `backend: local` and once with `backend: ray` (`--concurrent` trials at a time, one CPU
each, ASHA instead of the median pruner); Ray itself is started once before (its start-up is reported on its own
line). Reported: the search node's wall time, the trials completed / pruned, the best objective and its point.

Run: OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_ray_search.py [--trials 6] [--concurrent 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepnodes.core import Engine, Workflow  # noqa: E402
from deepnodes.core.component import memo_clear  # noqa: E402
from deepnodes.core.workflow_file import read_text  # noqa: E402


def once(trials: int, backend: str, concurrent: int) -> dict:
    import json

    memo_clear()  # no inner result of one backend's run is reused by the other
    wf = Workflow.from_json(json.loads(read_text(ROOT / "examples" / "parameter_search.json")))
    wf.set_option("search", "trials", trials)
    wf.set_option("search", "backend", backend)
    wf.set_option("search", "max_concurrent", concurrent)
    eng = Engine(wf)
    assert eng.run(nodes=["digits"]).ok
    t0 = time.perf_counter()
    res = eng.run()
    wall = time.perf_counter() - t0
    assert res.ok, eng.status["search"].message
    rows = eng.output("search", "trials").to_pylist()
    best = {r["parameter"]: r["value"] for r in eng.output("search", "best").to_pylist()}
    return {"wall": wall, "complete": sum(r["state"] == "complete" for r in rows),
            "pruned": sum(r["state"] == "pruned" for r in rows), "best": best}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--concurrent", type=int, default=2)
    a = ap.parse_args()
    from deepnodes.core.ray_runtime import connect

    t0 = time.perf_counter()
    session = connect("")
    print(f"local Ray start-up: {time.perf_counter() - t0:.1f} s ({session.cpus} CPUs, {os.cpu_count()} cores)")
    print("| backend | search wall s | complete | pruned | best objective | best point |")
    print("|---|---|---|---|---|---|")
    for backend in ("local", "ray"):
        r = once(a.trials, backend, a.concurrent)
        point = ", ".join(f"{k}={v}" for k, v in r["best"].items() if k != "objective")
        print(f"| {backend} | {r['wall']:.1f} | {r['complete']} | {r['pruned']} | "
              f"{float(r['best']['objective']):.4f} | {point} |", flush=True)
    session.close()


if __name__ == "__main__":
    main()
