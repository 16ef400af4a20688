"""Grid vs TPE vs TPE with pruning (issue 12): the same search space, the same trial budget, side by side.

examples/parameter_search_fashion.json (a small CNN on a Fashion-MNIST training slice, held-out accuracy of a
stratified quarter) with a space a grid can cover too: learning rate (log, 3 grid points), filters (8 / 16 / 32),
dropout (3 grid points); `--trials` trials of each strategy, `--rows` images, `--epochs` epochs a trial. Inner
results are not reused between strategies (the memo is cleared). Reported: the search node's wall time, trials
complete / pruned, the best objective and its point, and the time relative to TPE without pruning.

Run: OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_search_strategies.py [--trials 16] [--rows 1500]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepnodes.core import Engine, Workflow  # noqa: E402
from deepnodes.core.component import memo_clear  # noqa: E402
from deepnodes.core.workflow_file import read_text  # noqa: E402

SPACE = {"learning_rate": {"option": "learner.learning_rate", "low": 0.0003, "high": 0.03, "log": True},
         "filters": {"option": "conv.filters", "kind": "choice", "choices": [8, 16, 32]},
         "dropout": {"option": "dropout.rate", "low": 0.0, "high": 0.5}}


def once(strategy: str, pruning: bool, trials: int, rows: int, epochs: int) -> dict:
    memo_clear()
    wf = Workflow.from_json(json.loads(read_text(ROOT / "examples" / "parameter_search_fashion.json")))
    wf.set_option("fashion", "limit", rows)
    for k, v in {"strategy": strategy, "pruning": pruning, "trials": trials, "space": SPACE, "grid_points": 3}.items():
        wf.set_option("search", k, v)
    body = wf.nodes["search"].config["body"]
    next(n for n in body["nodes"] if n["id"] == "learner")["config"]["epochs"] = epochs
    wf.set_option("search", "body", body)
    eng = Engine(wf)
    assert eng.run(nodes=["fashion"]).ok
    t0 = time.perf_counter()
    res = eng.run()
    wall = time.perf_counter() - t0
    assert res.ok, eng.status["search"].message
    out = eng.output("search", "trials").to_pylist()
    best = {r["parameter"]: r["value"] for r in eng.output("search", "best").to_pylist()}
    return {"wall": wall, "complete": sum(r["state"] == "complete" for r in out),
            "pruned": sum(r["state"] == "pruned" for r in out), "best": best}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--rows", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=4)
    a = ap.parse_args()
    runs = {name: once(s, p, a.trials, a.rows, a.epochs)
            for name, s, p in [("grid", "grid", False), ("tpe", "tpe", False), ("tpe + pruning", "tpe", True)]}
    base = runs["tpe"]["wall"]
    print("| strategy | search wall s | × TPE | complete | pruned | best objective | best point |")
    print("|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        point = ", ".join(f"{k}={float(v):.4g}" for k, v in r["best"].items() if k != "objective")
        print(f"| {name} | {r['wall']:.1f} | {r['wall'] / base:.2f} | {r['complete']} | {r['pruned']} | "
              f"{float(r['best']['objective']):.4f} | {point} |")


if __name__ == "__main__":
    main()
