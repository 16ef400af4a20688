"""DeepNodes' example CNN workflow against the same model written by hand in plain PyTorch, as whole processes.

Runs `benchmarks/handwritten_cnn.py` (default memory format, default Adam, a .item() per batch: what a user
writes) and `deepnodes run examples/image_classification.json` with the same rows and epochs, alternating
(hand, deepnodes, hand, ...), each a fresh process. Compares training samples/s (the Learner's `samples_per_s`
result against the script's training-loop rate; validation excluded in both), whole-process wall time, peak
resident memory and CPU time (user + system) of each process (its own rusage) and test accuracy.

Targets (issue 10): samples/s >= 1.3x the hand-written script's, peak memory <= 1.1x, accuracy within noise.

Run: nice .venv/bin/python benchmarks/bench_train_vs_handwritten.py --rows 6000 --epochs 2 --repeats 2
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def _run_measured(cmd: list[str], env: dict) -> tuple[str, float]:
    pid = os.fork()
    if pid == 0:  # the child execs the command with stdout into a file; the parent reads its rusage
        fd = os.open(env["_BENCH_OUT"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.chdir(ROOT)
        os.execvpe(cmd[0], cmd, {k: v for k, v in env.items() if k != "_BENCH_OUT"})
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} exited with {os.waitstatus_to_exitcode(status)}")
    return Path(env["_BENCH_OUT"]).read_text(), usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def hand(rows: int, epochs: int, env: dict) -> dict:
    out, mb, cpu = _run_measured([PY, "benchmarks/handwritten_cnn.py", "--rows", str(rows), "--epochs", str(epochs)], env)
    r = json.loads(out.strip().splitlines()[-1])
    return {"samples_per_s": r["samples_per_s"], "wall_s": r["seconds"], "cpu_s": cpu, "peak_mb": mb,
            "accuracy": r["test_accuracy"]}


def deepnodes(rows: int, epochs: int, env: dict, tmp: Path) -> dict:
    report = tmp / "report.json"
    cmd = [str(Path(PY).parent / "deepnodes"), "run", "examples/image_classification.json", "--quiet", "--report", str(report),
           "--set", f"learner.epochs={epochs}", "--set", f"train_data.limit={rows}"]
    _, mb, cpu = _run_measured(cmd, env)
    r = json.loads(report.read_text())
    learner, scorer = r["nodes"]["learner"]["results"], r["nodes"]["scorer"]["results"]
    return {"samples_per_s": learner["samples_per_s"], "wall_s": r["seconds"], "cpu_s": cpu, "peak_mb": mb,
            "accuracy": scorer["accuracy"]}


def alternate(repeats: int, threads: int, run_hand, run_deepnodes) -> dict[str, list[dict]]:
    """`repeats` runs of each, alternating (hand, deepnodes, ...), each a fresh process: `run_hand(env)` and
    `run_deepnodes(env, tmp)` return one run's figures."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = dict(os.environ, _BENCH_OUT=str(tmp / "stdout.txt"), PYTHONPATH=str(ROOT))
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        runs: dict[str, list[dict]] = {"hand": [], "deepnodes": []}
        for i in range(repeats):
            runs["hand"].append(run_hand(env))
            runs["deepnodes"].append(run_deepnodes(env, tmp))
            print(f"run {i + 1}: hand {runs['hand'][-1]}\n       deepnodes {runs['deepnodes'][-1]}", flush=True)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=6000, help="Fashion-MNIST training rows")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="runs of each, alternating; the best of each is compared")
    ap.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for both (0: torch's default)")
    a = ap.parse_args()
    runs = alternate(a.repeats, a.threads, lambda env: hand(a.rows, a.epochs, env),
                     lambda env, tmp: deepnodes(a.rows, a.epochs, env, tmp))
    best = {k: {"samples_per_s": max(r["samples_per_s"] for r in v), "wall_s": min(r["wall_s"] for r in v),
                "cpu_s": min(r["cpu_s"] for r in v),
                "peak_mb": min(r["peak_mb"] for r in v), "accuracy": sum(r["accuracy"] for r in v) / len(v)}
            for k, v in runs.items()}
    h, o = best["hand"], best["deepnodes"]
    print(f"\nexample CNN, {a.rows} rows x {a.epochs} epochs, best of {a.repeats} (load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'':22}{'hand-written':>14}{'DeepNodes':>12}{'ratio':>8}")
    print(f"{'training samples/s':22}{h['samples_per_s']:14.0f}{o['samples_per_s']:12.0f}"
          f"{o['samples_per_s'] / h['samples_per_s']:7.2f}x   (target >= 1.3x)")
    print(f"{'whole process, s':22}{h['wall_s']:14.1f}{o['wall_s']:12.1f}{o['wall_s'] / h['wall_s']:7.2f}x")
    print(f"{'whole process, CPU s':22}{h['cpu_s']:14.1f}{o['cpu_s']:12.1f}{o['cpu_s'] / h['cpu_s']:7.2f}x"
          "   (user + system: less sensitive to other load than wall time)")
    print(f"{'peak memory, MB':22}{h['peak_mb']:14.0f}{o['peak_mb']:12.0f}"
          f"{o['peak_mb'] / h['peak_mb']:7.2f}x   (target <= 1.1x)")
    print(f"{'test accuracy':22}{h['accuracy']:14.4f}{o['accuracy']:12.4f}")


if __name__ == "__main__":
    main()
