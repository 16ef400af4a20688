"""H2O against XGBoost on the pretrained-features example: accuracy on the same held-out split and time.

    .venv/bin/python benchmarks/bench_h2o.py [--max-models 3] [--max-runtime-secs 180] [--nthreads 2]

Runs examples/features_h2o.json (LFW faces vs non-faces, 60/40 stratified split, EfficientNet-Lite0's 1280
pooled features) with three learners side by side on the same feature tables: the example's H2O AutoML,
an H2O Learner with GBM (50 trees, depth 3), and the XGBoost Learner with the options of
examples/features_xgboost.json. The H2O session is started first and timed apart, so the learner times
are training (with the MOJO export) only. Prints one line per learner: test accuracy and seconds.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-models", type=int, default=3)
    ap.add_argument("--max-runtime-secs", type=int, default=180)
    ap.add_argument("--nthreads", type=int, default=2)
    args = ap.parse_args()

    from deepnodes.core import Engine, Workflow
    from deepnodes.h2o import session

    wf = Workflow.load(ROOT / "examples" / "features_h2o.json")
    opts = {"nthreads": args.nthreads, "max_mem_size": "2G"}
    wf.nodes["automl"].config.update({"max_models": args.max_models, "max_runtime_secs": args.max_runtime_secs,
                                      **opts})
    xgb = next(n for n in Workflow.load(ROOT / "examples" / "features_xgboost.json").nodes.values()
               if n.type == "deepnodes.ml.XGBoostLearner")
    learners = {"gbm": ("deepnodes.h2o.Learner", "deepnodes.h2o.Predictor",
                        {"target_column": "label", "feature_columns": ["avg_pool"], "algorithm": "gbm",
                         "ntrees": 50, "max_depth": 3, "seed": 1, **opts}),
                "xgb": ("deepnodes.ml.XGBoostLearner", "deepnodes.ml.XGBoostPredictor", dict(xgb.config))}
    for name, (learner, predictor, config) in learners.items():
        wf.add(learner, name, config)
        wf.add(predictor, f"predict_{name}", {"prediction_column": "prediction"})
        wf.add("deepnodes.data.Scorer", f"scorer_{name}", {"truth_column": "label"})
        wf.connect("features_train", "table", name, "table")
        wf.connect(name, "model", f"predict_{name}", "model")
        wf.connect("features_test", "table", f"predict_{name}", "table")
        wf.connect(f"predict_{name}", "table", f"scorer_{name}", "table")

    t0 = time.perf_counter()
    session.acquire(session.SessionOptions(max_mem_size="2G", nthreads=args.nthreads))
    start = time.perf_counter() - t0
    eng = Engine(wf, max_workers=1)  # one learner at a time: each is timed on a quiet machine
    t0 = time.perf_counter()
    res = eng.run()
    total = time.perf_counter() - t0
    if not res.ok:
        for n, st in eng.status.items():
            if st.state != "executed":
                print(f"{n}: {st.state} {st.message}")
        raise SystemExit(1)
    print(f"H2O session start: {start:.1f} s   (whole run after it: {total:.1f} s, features included)")
    for label, node, scorer in (("H2O AutoML leader", "automl", "scorer"), ("H2O GBM", "gbm", "scorer_gbm"),
                                ("XGBoost", "xgb", "scorer_xgb")):
        st = eng.status[node]
        extra = f" (leader {st.scalars.get('leader')}, {st.scalars.get('models')} models)" if node == "automl" else ""
        print(f"{label:18s} accuracy {eng.status[scorer].scalars['accuracy']:.4f}   "
              f"training {st.seconds:.1f} s{extra}")
    session.shutdown()


if __name__ == "__main__":
    main()
