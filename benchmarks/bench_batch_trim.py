"""Training throughput with and without per-batch trimming of padded token columns (`deepnodes/dl/trim.py`).

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_batch_trim.py [--pairs 600] [--vocab 250] [--repeats 2]
        [--examples translation_transformer_en_de.json translation_en_de.json]

Runs each translation example up to its Learner on the first `--pairs` training pairs (one epoch; subword
dictionaries of `--vocab` ids, so the output layer is smaller than the examples'; their configuration otherwise),
alternating trimmed and untrimmed runs (the untrimmed one is the Learner with
`BatchTrim.of` switched off: every batch padded to the table's longest row), and prints training pairs per CPU
second of the Learner (the process's CPU time while only the Learner runs, its epoch and validation: a figure
that other jobs on the machine change little; best of the repeats) beside the wall-clock pairs/s. Same seed, same batches: the first-epoch losses agree up to
the dropout draws (their shape follows the batch's).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepnodes.core import Engine, Workflow  # noqa: E402
from deepnodes.dl import train as train_mod  # noqa: E402
from deepnodes.dl.trim import BatchTrim  # noqa: E402

_PLAN = BatchTrim.of


def _once(example: str, pairs: int, vocab: int, trimmed: bool) -> dict:
    wf = Workflow.load(ROOT / "examples" / example)
    wf.set_option("train_pairs", "limit", pairs)
    wf.set_option("val_pairs", "limit", max(pairs // 10, 20))
    wf.set_option("learner", "epochs", 1)
    for n in ("en_tok", "de_tok"):  # subword dictionaries a slice this small can fill
        wf.set_option(n, "vocab_size", vocab)
    if "encoder" in wf.nodes:  # the LSTM example states its sizes (the Transformer's layers take the dictionary's)
        for n in ("src_emb", "tgt_emb"):
            wf.set_option(n, "input_dim", vocab)
        wf.set_option("probs", "units", vocab)
    train_mod.BatchTrim.of = _PLAN if trimmed else classmethod(lambda cls, *a, **k: cls())
    eng = Engine(wf)
    for n in ("train_tgt", "val_tgt"):  # the tokenizers and ids first: the Learner's CPU time is measured alone
        eng.run(until=n)
    c0 = time.process_time()
    res = eng.run(until="learner")
    train_mod.BatchTrim.of = _PLAN
    if not res.ok:
        raise SystemExit(f"{example}: {[(n, s.message) for n, s in eng.status.items() if s.state == 'failed']}")
    row = eng.output("learner", "history").to_pylist()[0]
    cpu = time.process_time() - c0
    return {"pairs_per_s": row["samples_per_s"], "loss": row["loss"], "epoch_seconds": row["seconds"],
            "cpu_seconds": cpu, "pairs_per_cpu_s": pairs / cpu}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=600)
    ap.add_argument("--vocab", type=int, default=250, help="subword dictionary size per language")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--examples", nargs="+", default=["translation_transformer_en_de.json", "translation_en_de.json"])
    a = ap.parse_args()
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {a.pairs} training pairs, 1 epoch, "
          f"vocabularies of {a.vocab}")
    for ex in a.examples:
        runs: dict[bool, list[dict]] = {True: [], False: []}
        for _ in range(a.repeats):
            for trimmed in (False, True):
                runs[trimmed].append(_once(ex, a.pairs, a.vocab, trimmed))
        best = {k: max(r["pairs_per_cpu_s"] for r in v) for k, v in runs.items()}
        print(f"{ex}: padded to the table {best[False]:.1f} pairs per CPU second, trimmed per batch "
              f"{best[True]:.1f}, speed-up {best[True] / best[False]:.2f}x")
        for k in (False, True):
            print(f"  {'trimmed' if k else 'padded '}: " + ", ".join(
                f"{r['pairs_per_cpu_s']:.1f} pairs/CPU s ({r['cpu_seconds']:.1f} CPU s of the Learner, wall "
                f"{r['pairs_per_s']:.1f} pairs/s, loss {r['loss']:.4f})" for r in runs[k]))


if __name__ == "__main__":
    main()
