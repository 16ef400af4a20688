"""Quality of the two text examples in their default configurations (docs/benchmarks.md, section "Text").

    .venv/bin/python benchmarks/bench_text_quality.py [--train-seconds 1800] [--train-cpu-seconds 1800]
        [--only lm|translation] [--out f.json] [--set node.option=value ...]
        [--translation-example translation_transformer_en_de.json] [--lm-example language_model_transformer.json]

Runs examples/language_model.json and examples/translation_en_de.json (or the Transformer examples) as they are,
except that each Learner is stopped (keeping its model) after --train-seconds of wall-clock training or once the
process has spent --train-cpu-seconds of CPU time since the Learner started (robust to other jobs on the
machine; run it with OMP_NUM_THREADS=1 for single-threaded CPU minutes), and prints:
- language model: bits per character on the held-out 5% of chapters, the share of generated words
  (temperature 0.5) that are words of the training text, and sample generations;
- translation: BLEU / chrF on the Ding test split for greedy and beam-4 decoding, the two trivial
  baselines (copy the English input; the most frequent German training sentence) and example translations.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepnodes.core import Engine, Workflow  # noqa: E402
from deepnodes.dl.graph_runner import GraphRunner  # noqa: E402


def _run(wf: Workflow, learner: str, seconds: float, log, cpu_seconds: float | None = None,
         timing: dict | None = None) -> Engine:
    """Run `wf`, stopping the Learner (it keeps its model) after `seconds` of wall-clock training or when the
    process has spent `cpu_seconds` of CPU time (time.process_time: all its threads) since the Learner started,
    whichever comes first; `timing` gets the training's wall and CPU seconds and the load average."""
    eng = Engine(wf)
    timing = timing if timing is not None else {}
    done = threading.Event()

    def watch_cpu(cpu0: float) -> None:
        while not done.wait(1.0):
            if time.process_time() - cpu0 >= cpu_seconds:
                log(f"[{learner}] {cpu_seconds:.0f} CPU seconds of training spent: stopping")
                eng.request_stop(learner)
                return

    def on(ev):
        if ev["type"] == "state" and ev["node"] == learner:
            if ev["state"] == "executing":
                timing.update(t0=time.time(), cpu0=time.process_time(), load_start=os.getloadavg()[0])
                timer = threading.Timer(seconds, lambda: eng.request_stop(learner))
                timer.daemon = True
                timer.start()
                if cpu_seconds:
                    threading.Thread(target=watch_cpu, args=(timing["cpu0"],), daemon=True).start()
            elif "t0" in timing and "train_wall_seconds" not in timing:
                done.set()
                timing.update(train_wall_seconds=round(time.time() - timing["t0"], 1),
                              train_cpu_seconds=round(time.process_time() - timing["cpu0"], 1),
                              load_end=os.getloadavg()[0])
        if ev["type"] == "log" and ev["node"] == learner:
            log(f"[{learner}] {ev['line']}")
    eng.subscribe(on)
    t0 = time.time()
    res = eng.run()
    done.set()
    if not res.ok:
        bad = {n: s.message for n, s in eng.status.items() if s.state == "failed"}
        raise SystemExit(f"workflow failed: {bad}")
    log(f"workflow ran in {time.time() - t0:.0f} s; training: {timing.get('train_wall_seconds')} s wall, "
        f"{timing.get('train_cpu_seconds')} CPU s")
    for k in ("t0", "cpu0"):
        timing.pop(k, None)
    return eng


def _load(example: str, sets: list[str]) -> Workflow:
    """The example, with each `node.option=value` of --set applied as `deepnodes run --set` applies it."""
    from deepnodes.cli import parse_set

    wf = Workflow.load(ROOT / "examples" / example)
    for item in sets:
        wf.set_option(*parse_set(item))
    return wf


def language_model(seconds: float, log, limit: int | None = None, example: str = "language_model.json",
                   cpu_seconds: float | None = None, sets: list[str] = ()) -> dict:
    wf = _load(example, list(sets))
    wf.set_option("seeds", "limit", 20)
    if limit:  # a smoke run of the script itself
        wf.set_option("train_text", "limit", limit)
        wf.set_option("test_text", "limit", limit // 10)
    timing: dict = {}
    eng = _run(wf, "learner", seconds, log, cpu_seconds, timing)
    hist = eng.output("learner", "history").to_pylist()
    train = eng.output("train_text").column("text").to_pylist()
    vocab_words = set(re.findall(r"[A-Za-z]+", " ".join(train)))
    gen = eng.output("generator").column("generated").to_pylist()
    seeds = eng.output("seeds").column("text").to_pylist()
    words = [w for g, s in zip(gen, seeds) for w in re.findall(r"[A-Za-z]+", g[len(s):])[1:-1]]  # whole words only
    known = sum(w in vocab_words for w in words) / max(len(words), 1)
    scores = eng.output("scorer").to_pylist()[0]
    extra = {}
    window = GraphRunner(eng.output("learner", "network")).window
    if window:  # a Transformer, scored with sliding windows: the figure from separate windows beside it
        wf.set_option("scorer", "stride", window)
        eng.run()
        extra["bits_per_character_separate_windows"] = eng.output("scorer").to_pylist()[0]["bits_per_token"]
        extra["scorer_stride"] = window // 2
    return {"bits_per_character": scores["bits_per_token"], "perplexity": scores["perplexity"], **extra,
            "held_out_characters": scores["tokens"], "epochs": len(hist),
            "train_seconds": sum(h.get("seconds", 0) for h in hist), **timing,
            "history": [{k: round(v, 4) if isinstance(v, float) else v for k, v in h.items()} for h in hist],
            "windows_per_second": hist[-1].get("samples_per_s") if hist else None,
            "generated_words": len(words), "share_of_training_words": known,
            "samples": [g[len(s):][:200] for g, s in zip(gen[:3], seeds[:3])]}


def translation(seconds: float, log, limit: int | None = None, example: str = "translation_en_de.json",
                cpu_seconds: float | None = None, sets: list[str] = ()) -> dict:
    from deepnodes.dl.text_metrics import corpus_bleu, corpus_chrf

    wf = _load(example, list(sets))
    if limit:  # a smoke run of the script itself
        for n in ("train_pairs", "val_pairs", "test_pairs"):
            wf.set_option(n, "limit", limit if n == "train_pairs" else limit // 10)
    both = "greedy_node" in wf.nodes  # the example decodes greedy and beam itself: one run
    if not both:
        wf.set_option("decoder_node", "method", "greedy")
    timing: dict = {}
    eng = _run(wf, "learner", seconds, log, cpu_seconds, timing)
    greedy_node, greedy_scorer = ("greedy_node", "greedy_scorer") if both else ("decoder_node", "scorer")
    out = {"greedy": eng.status[greedy_scorer].scalars, **timing,
           "greedy_decode_seconds": round(eng.status[greedy_node].seconds or 0, 1)}
    test = eng.output(greedy_node)
    greedy_tr = test.column("translation").to_pylist()
    if not both:
        wf.set_option("decoder_node", "method", "beam")
        eng.run()
    out["beam_decode_seconds"] = round(eng.status["decoder_node"].seconds or 0, 1)
    log(f"decoding the test pairs: greedy {out['greedy_decode_seconds']} s, beam {out['beam_decode_seconds']} s")
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
    ap.add_argument("--train-seconds", type=float, default=1800.0, help="wall-clock cap on each training")
    ap.add_argument("--train-cpu-seconds", type=float, default=None,
                    help="stop each Learner (keeping its model) once the process spent this much CPU time training")
    ap.add_argument("--only", choices=("lm", "translation"))
    ap.add_argument("--out", default="")
    ap.add_argument("--limit", type=int, default=None, help="training rows (a smoke run of this script)")
    ap.add_argument("--translation-example", default="translation_en_de.json",
                    help="the translation workflow in examples/ (translation_transformer_en_de.json: the Transformer)")
    ap.add_argument("--lm-example", default="language_model.json",
                    help="the language-model workflow in examples/ (language_model_transformer.json: the Transformer)")
    ap.add_argument("--set", action="append", default=[], metavar="NODE.OPTION=VALUE",
                    help="change an option of the example before it runs (a tuning try), as `deepnodes run --set`")
    a = ap.parse_args()
    log = lambda s: print(s, flush=True)  # noqa: E731
    import torch

    res = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
           "torch_threads": torch.get_num_threads(), "train_seconds_limit": a.train_seconds,
           "train_cpu_seconds_limit": a.train_cpu_seconds, "set": a.set}
    if a.only in (None, "lm"):
        res["language_model"] = language_model(a.train_seconds, log, a.limit, a.lm_example, a.train_cpu_seconds,
                                                 a.set)
        print(json.dumps(res["language_model"], indent=1, ensure_ascii=False), flush=True)
        if a.out:
            Path(a.out).write_text(json.dumps(res, indent=1, ensure_ascii=False))
    if a.only in (None, "translation"):
        res["translation"] = translation(a.train_seconds, log, a.limit, a.translation_example,
                                        a.train_cpu_seconds, a.set)
        print(json.dumps(res["translation"], indent=1, ensure_ascii=False), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
