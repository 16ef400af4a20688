"""Quality of the two text examples in their default configurations (docs/benchmarks.md, section "Text").

    .venv/bin/python benchmarks/bench_text_quality.py [--train-seconds 1800] [--only lm|translation] [--out f.json]
        [--translation-example translation_transformer_en_de.json]

Runs examples/language_model.json and examples/translation_en_de.json as they are, except that each
Learner is stopped (keeping its model) after --train-seconds of training, and prints:
- language model: bits per character on the held-out 5% of chapters, the share of generated words
  (temperature 0.5) that are words of the training text, and sample generations;
- translation: BLEU / chrF on the Ding test split for greedy and beam-4 decoding, the two trivial
  baselines (copy the English input; the most frequent German training sentence) and example translations.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepnodes.core import Engine, Workflow  # noqa: E402


def _run(wf: Workflow, learner: str, seconds: float, log) -> Engine:
    eng = Engine(wf)
    started = {}

    def on(ev):
        if ev["type"] == "state" and ev["node"] == learner and ev["state"] == "executing":
            started["t"] = time.time()
            threading.Timer(seconds, lambda: eng.request_stop(learner)).start()
        if ev["type"] == "log" and ev["node"] == learner:
            log(f"[{learner}] {ev['line']}")
    eng.subscribe(on)
    t0 = time.time()
    res = eng.run()
    if not res.ok:
        bad = {n: s.message for n, s in eng.status.items() if s.state == "failed"}
        raise SystemExit(f"workflow failed: {bad}")
    log(f"workflow ran in {time.time() - t0:.0f} s (training {time.time() - started.get('t', t0):.0f} s incl. after)")
    return eng


def language_model(seconds: float, log, limit: int | None = None) -> dict:
    wf = Workflow.load(ROOT / "examples" / "language_model.json")
    wf.set_option("seeds", "limit", 20)
    if limit:  # a smoke run of the script itself
        wf.set_option("train_text", "limit", limit)
        wf.set_option("test_text", "limit", limit // 10)
    eng = _run(wf, "learner", seconds, log)
    hist = eng.output("learner", "history").to_pylist()
    train = eng.output("train_text").column("text").to_pylist()
    vocab_words = set(re.findall(r"[A-Za-z]+", " ".join(train)))
    gen = eng.output("generator").column("generated").to_pylist()
    seeds = eng.output("seeds").column("text").to_pylist()
    words = [w for g, s in zip(gen, seeds) for w in re.findall(r"[A-Za-z]+", g[len(s):])[1:-1]]  # whole words only
    known = sum(w in vocab_words for w in words) / max(len(words), 1)
    scores = eng.output("scorer").to_pylist()[0]
    return {"bits_per_character": scores["bits_per_token"], "perplexity": scores["perplexity"],
            "held_out_characters": scores["tokens"], "epochs": len(hist),
            "train_seconds": sum(h.get("seconds", 0) for h in hist),
            "chars_per_second": (hist[-1].get("samples_per_s", 0) * 100) if hist else None,
            "generated_words": len(words), "share_of_training_words": known,
            "samples": [g[len(s):][:200] for g, s in zip(gen[:3], seeds[:3])]}


def translation(seconds: float, log, limit: int | None = None, example: str = "translation_en_de.json") -> dict:
    from deepnodes.dl.text_metrics import corpus_bleu, corpus_chrf

    wf = Workflow.load(ROOT / "examples" / example)
    if limit:  # a smoke run of the script itself
        for n in ("train_pairs", "val_pairs", "test_pairs"):
            wf.set_option(n, "limit", limit if n == "train_pairs" else limit // 10)
    wf.set_option("decoder_node", "method", "greedy")
    eng = _run(wf, "learner", seconds, log)
    out = {"greedy": eng.status["scorer"].scalars}
    test = eng.output("decoder_node")
    greedy_tr = test.column("translation").to_pylist()
    wf.set_option("decoder_node", "method", "beam")
    t = time.time()
    eng.run()
    log(f"beam decoding {time.time() - t:.0f} s")
    out["beam4"] = eng.status["scorer"].scalars
    en = test.column("english").to_pylist()
    de = test.column("german").to_pylist()
    beam_tr = eng.output("decoder_node").column("translation").to_pylist()
    train_de = eng.output("train_pairs").column("german").to_pylist()
    frequent = collections.Counter(train_de).most_common(1)[0][0]
    out["copy_baseline"] = {"bleu": corpus_bleu(en, de), "chrf": corpus_chrf(en, de)}
    out["most_frequent_baseline"] = {"sentence": frequent, "bleu": corpus_bleu([frequent] * len(de), de),
                                     "chrf": corpus_chrf([frequent] * len(de), de)}
    hist = eng.output("learner", "history").to_pylist()
    out["epochs"] = len(hist)
    out["history"] = [{k: round(v, 4) if isinstance(v, float) else v for k, v in h.items()} for h in hist]
    out["test_pairs"] = len(de)
    out["examples"] = [{"english": e, "reference": r, "greedy": g, "beam4": b}
                       for e, r, g, b in list(zip(en, de, greedy_tr, beam_tr))[:8]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-seconds", type=float, default=1800.0)
    ap.add_argument("--only", choices=("lm", "translation"))
    ap.add_argument("--out", default="")
    ap.add_argument("--limit", type=int, default=None, help="training rows (a smoke run of this script)")
    ap.add_argument("--translation-example", default="translation_en_de.json",
                    help="the translation workflow in examples/ (translation_transformer_en_de.json: the Transformer)")
    a = ap.parse_args()
    log = lambda s: print(s, flush=True)  # noqa: E731
    import torch

    res = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
           "torch_threads": torch.get_num_threads(), "train_seconds_limit": a.train_seconds}
    if a.only in (None, "lm"):
        res["language_model"] = language_model(a.train_seconds, log, a.limit)
        print(json.dumps(res["language_model"], indent=1, ensure_ascii=False), flush=True)
        if a.out:
            Path(a.out).write_text(json.dumps(res, indent=1, ensure_ascii=False))
    if a.only in (None, "translation"):
        res["translation"] = translation(a.train_seconds, log, a.limit, a.translation_example)
        print(json.dumps(res["translation"], indent=1, ensure_ascii=False), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
