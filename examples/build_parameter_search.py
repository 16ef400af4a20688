"""Writes examples/parameter_search.json: `python examples/build_parameter_search.py examples/parameter_search.json`."""
import sys

sys.path.insert(0, ".")
from deepnodes.core import Workflow  # noqa: E402
from tests.flow.flow_bodies import holdout_body  # noqa: E402

body = holdout_body()
for n in body["nodes"]:
    if n["id"] == "learner":
        n["config"]["epochs"] = 6
wf = Workflow("TPE search of a small net on digits, with pruning",
              "Optuna's TPE searches the learning rate and batch size of a dense net on scikit-learn's 8x8 digits "
              "(offline), pruning trials that are clearly worse after an epoch; trials table and best configuration.",
              "under a minute on a laptop CPU")
wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"}, position=(0, 0))
wf.add("deepnodes.flow.ParameterSearch", "search", {
    "body": body, "objective": "scorer.accuracy", "direction": "maximize", "strategy": "tpe", "trials": 12,
    "seed": 3, "pruning": True, "prune_on": "learner.accuracy",
    "space": {"learning_rate": {"option": "learner.learning_rate", "low": 0.00003, "high": 0.03, "log": True},
              "batch_size": {"option": "learner.batch_size", "kind": "choice", "choices": [32, 64, 128]}}},
    label="Parameter search", position=(300, 0))
wf.connect("digits", "table", "search", "table")
wf.save(sys.argv[1])
