"""The translation example workflow against the same encoder-decoder written by hand in plain PyTorch, as whole
processes.

Runs `benchmarks/handwritten_seq2seq.py` and `deepnodes run examples/translation_en_de.json --until learner` on the
same English-German pairs (`--pairs` training, `--val` validation) for the same epochs, alternating (hand,
deepnodes, ...), each a fresh process, and compares training pairs/s (the Learner's `samples_per_s` result against
the script's training-loop rate; validation excluded in both), whole-process CPU time (user + system) and peak
resident memory. Both processes run the workflow's tokenizer nodes first (the hand-written one to get the same ids).

Target (issue 10): DeepNodes >= 1.0x the hand-written script's pairs/s (never slower), peak memory <= 1.1x.

Run: nice .venv/bin/python benchmarks/bench_seq2seq_vs_handwritten.py --pairs 2000 --val 200 --epochs 1 --repeats 2 --threads 1
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


def hand(pairs: int, val: int, epochs: int, env: dict) -> dict:
    out, mb, cpu = _run_measured([PY, "benchmarks/handwritten_seq2seq.py", "--pairs", str(pairs), "--val", str(val),
                                  "--epochs", str(epochs)], env)
    r = json.loads(out.strip().splitlines()[-1])
    return {"samples_per_s": r["samples_per_s"], "loss": r["loss"], "val_loss": r["val_loss"], "cpu_s": cpu,
            "peak_mb": mb, "steps": (r["source_steps"], r["target_steps"])}


def deepnodes(pairs: int, val: int, epochs: int, env: dict, tmp: Path) -> dict:
    report = tmp / "report.json"
    cmd = [str(Path(PY).parent / "deepnodes"), "run", "examples/translation_en_de.json", "--until", "learner",
           "--quiet", "--report", str(report), "--set", f"learner.epochs={epochs}",
           "--set", f"train_pairs.limit={pairs}", "--set", f"val_pairs.limit={val}"]
    _, mb, cpu = _run_measured(cmd, env)
    r = json.loads(report.read_text())["nodes"]["learner"]["results"]
    return {"samples_per_s": r["samples_per_s"], "loss": r["loss"], "val_loss": r.get("val_loss"), "cpu_s": cpu,
            "peak_mb": mb}


def main() -> None:
    ap = argparse.ArgumentParser()
    for flag, default, text in (("--pairs", 2000, "training pairs"), ("--val", 200, "validation pairs"),
                                ("--epochs", 1, "epochs"),
                                ("--repeats", 2, "runs of each, alternating; the best of each is compared"),
                                ("--threads", 0, "OMP_NUM_THREADS for both (0: torch's default)")):
        ap.add_argument(flag, type=int, default=default, help=text)
    a = ap.parse_args()
    runs = alternate(a.repeats, a.threads, lambda env: hand(a.pairs, a.val, a.epochs, env),
                     lambda env, tmp: deepnodes(a.pairs, a.val, a.epochs, env, tmp))
    pick = {"samples_per_s": max, "cpu_s": min, "peak_mb": min}
    best = {who: {k: f(r[k] for r in rs) for k, f in pick.items()} for who, rs in runs.items()}
    steps = runs["hand"][0]["steps"]
    print(f"\nseq2seq with attention, {a.pairs} pairs (padded to {steps[0]} source / {steps[1]} target steps) x "
          f"{a.epochs} epochs, best of {a.repeats}, threads {a.threads or 'default'} (load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'':22}{'hand-written':>14}{'DeepNodes':>12}{'ratio':>8}")
    rows = [("training pairs/s", "samples_per_s", ".1f", "   (target >= 1.0x)"),
            ("whole process, CPU s", "cpu_s", ".1f", ""), ("peak memory, MB", "peak_mb", ".0f", "   (target <= 1.1x)")]
    for label, k, fmt, note in rows:
        h, o = best["hand"][k], best["deepnodes"][k]
        print(f"{label:22}{h:14{fmt}}{o:12{fmt}}{o / h:7.2f}x{note}")


if __name__ == "__main__":
    main()
