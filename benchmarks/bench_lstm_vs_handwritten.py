"""The character-LSTM example workflow against the same model written by hand in plain PyTorch, as whole processes.

Runs `benchmarks/handwritten_char_lstm.py` and `deepnodes run examples/language_model.json --until learner` on the
same KJV verses (`--verses`) for the same epochs, alternating (hand, deepnodes, ...), each a fresh process, and
compares training windows/s (the Learner's `samples_per_s` result against the script's training-loop rate), whole
process CPU time (user + system: less sensitive to other load than wall time) and peak resident memory.

Target (issue 10): DeepNodes >= 1.0x the hand-written script's samples/s (never slower).

Run: nice .venv/bin/python benchmarks/bench_lstm_vs_handwritten.py --verses 200 --epochs 1 --repeats 2 [--threads N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_train_vs_handwritten import PY, _run_measured, alternate  # noqa: E402


def hand(verses: int, epochs: int, env: dict) -> dict:
    out, mb, cpu = _run_measured([PY, "benchmarks/handwritten_char_lstm.py", "--verses", str(verses),
                                  "--epochs", str(epochs)], env)
    r = json.loads(out.strip().splitlines()[-1])
    return {"samples_per_s": r["samples_per_s"], "windows": r["windows"], "loss": r["loss"], "cpu_s": cpu,
            "peak_mb": mb}


def deepnodes(verses: int, epochs: int, env: dict, tmp: Path) -> dict:
    report = tmp / "report.json"
    cmd = [str(Path(PY).parent / "deepnodes"), "run", "examples/language_model.json", "--until", "learner", "--quiet",
           "--report", str(report), "--set", f"learner.epochs={epochs}", "--set", f"train_text.limit={verses}"]
    _, mb, cpu = _run_measured(cmd, env)
    r = json.loads(report.read_text())["nodes"]["learner"]["results"]
    return {"samples_per_s": r["samples_per_s"], "loss": r["loss"], "cpu_s": cpu, "peak_mb": mb}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verses", type=int, default=200, help="KJV training verses")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2, help="runs of each, alternating; the best of each is compared")
    ap.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for both (0: torch's default)")
    a = ap.parse_args()
    runs = alternate(a.repeats, a.threads, lambda env: hand(a.verses, a.epochs, env),
                     lambda env, tmp: deepnodes(a.verses, a.epochs, env, tmp))
    best = {k: {"samples_per_s": max(r["samples_per_s"] for r in v), "cpu_s": min(r["cpu_s"] for r in v),
                "peak_mb": min(r["peak_mb"] for r in v)} for k, v in runs.items()}
    h, o = best["hand"], best["deepnodes"]
    print(f"\nchar LSTM, {a.verses} verses ({runs['hand'][0]['windows']} windows) x {a.epochs} epochs, best of "
          f"{a.repeats} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'':22}{'hand-written':>14}{'DeepNodes':>12}{'ratio':>8}")
    print(f"{'training windows/s':22}{h['samples_per_s']:14.1f}{o['samples_per_s']:12.1f}"
          f"{o['samples_per_s'] / h['samples_per_s']:7.2f}x   (target >= 1.0x)")
    print(f"{'whole process, CPU s':22}{h['cpu_s']:14.1f}{o['cpu_s']:12.1f}{o['cpu_s'] / h['cpu_s']:7.2f}x")
    print(f"{'peak memory, MB':22}{h['peak_mb']:14.0f}{o['peak_mb']:12.0f}{o['peak_mb'] / h['peak_mb']:7.2f}x")


if __name__ == "__main__":
    main()
