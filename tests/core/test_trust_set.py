"""Issue 17 sections 6/7: `--set` always ends in a valid workflow or one sentence (exit 2), and absurd values are
configure errors because every integer option of every node type has an upper bound."""
import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from deepnodes import cli
from deepnodes.core import Workflow, WorkflowError, registry
from tests.core.trust_strategies import check_sentence, examples, set_expressions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["mnist_cnn.json", "language_model.json", "features_xgboost.json", "translation_en_de.json"]

#: float options that tune a computation but do not size it (no upper bound needed: 1e30 costs no more than 1)
UNSIZED_FLOATS = {"learning_rate", "head_learning_rate", "epsilon", "weight_decay", "clipnorm", "clipvalue",
                  "min_delta", "min_lr", "loss_weight", "huber_delta", "new_min", "new_max", "mean", "std", "C",
                  "alpha", "min_child_weight", "gamma", "reg_lambda", "reg_alpha", "negative_slope", "stddev",
                  "mask_value", "max_value", "threshold", "temperature", "class_weights", "min_rows", "lambda_",
                  "l1", "l2", "layer_norm_epsilon", "max_wavelength",
                  *(f"{w}_regularizer" for w in ("kernel", "bias", "recurrent", "activity", "depthwise",
                                                 "pointwise", "embeddings", "beta", "gamma"))}


def _numbers(schema, defs, path):
    """(path, leaf schema) for every integer and number anywhere in an option's schema."""
    while "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    for key in ("anyOf", "oneOf", "allOf"):
        for s in schema.get(key, []):
            yield from _numbers(s, defs, path)
    t = schema.get("type")
    if t in ("integer", "number"):
        yield path, schema
    if t == "array":
        for s in ([schema["items"]] if isinstance(schema.get("items"), dict) else []) + schema.get("prefixItems", []):
            yield from _numbers(s, defs, path)
    if t == "object":
        for k, s in schema.get("properties", {}).items():
            yield from _numbers(s, defs, path + [k])
        if isinstance(schema.get("additionalProperties"), dict):
            yield from _numbers(schema["additionalProperties"], defs, path + ["*"])


def test_every_integer_option_of_every_node_type_has_an_upper_bound():
    unbounded = []
    for type_id, cls in registry.all_nodes().items():
        if not type_id.startswith("deepnodes."):
            continue  # test doubles registered by other tests
        schema = cls.Config.model_json_schema()
        defs = schema.get("$defs", {})
        for name, prop in schema.get("properties", {}).items():
            for path, leaf in _numbers(prop, defs, [name]):
                if "maximum" in leaf or "exclusiveMaximum" in leaf:
                    continue
                if leaf["type"] == "number" and UNSIZED_FLOATS & set(path):
                    continue
                unbounded.append(f"{type_id} {'.'.join(path)} ({leaf['type']})")
    assert unbounded == [], "options without an upper bound: " + ", ".join(unbounded)
    assert len(registry.all_nodes()) > 100  # the walk saw the real catalogue


@pytest.fixture(scope="module")
def workflows():
    return {name: Workflow.load(ROOT / "examples" / name) for name in EXAMPLES}


def _set(wf, expr):
    node_id, path, value = cli.parse_set(expr)
    wf.set_option(node_id, path, value)


#: (--set on examples/mnist_cnn.json, a part of its sentence); benchmarks/reliability.py runs them too
SET_CASES = [
    ("learner.targets.5.loss=mse", "node 'learner' option 'targets.5.loss': index 5 is out of range; option "
                                   "'targets' is a list of 1"),
    ("learner.targets.-1.loss=mse", "'-1' is not a list index"),
    ("learner.targets.x.loss=mse", "'x' is not a list index"),
    ("learner.targets.0.columns.3=a", "index 3 is out of range; option 'targets.0.columns' is a list of 1"),
    ("learner.epochs=true", "node 'learner' option 'epochs': input should be a valid integer; it is true"),
    ("learner.epochs=2.5", "node 'learner' option 'epochs': input should be a valid integer"),
    ("learner.epochs=\"3\"", "node 'learner' option 'epochs': input should be a valid integer; it is \"3\""),
    ("learner.epochs=99999999999999999999999", "--set learner.epochs holds the integer 99999999999999999999999, "
                                               "beyond a 64-bit integer"),
    ("learner.epochs=" + "9" * 5000, "--set learner.epochs: the value '99999"),
    ("learner.epochs=1e23", "node 'learner' option 'epochs': input should be a valid integer; it is 1e+23"),
    ("learner.epochs=10000000000", "node 'learner' option 'epochs': input should be less than or equal to 1000000"),
    ("learner.batch_size=1000000000000", "option 'batch_size': input should be less than or equal to"),
    ("dense.units=100000000000", "node 'dense' option 'units': input should be less than or equal to 1048576"),
    ("conv1.kernel_size=[3, 100000000]", "node 'conv1' option 'kernel_size"),
    ("conv1.kernel_size=true", "node 'conv1' option 'kernel_size': input should be a valid integer; it is true"),
    ("learner.learning_rate=NaN", "--set learner.learning_rate holds nan, which is not a finite number"),
    ("learner.learning_rate=Infinity", "holds inf, which is not a finite number"),
    ("learner.seed=1e400", "holds inf, which is not a finite number"),
    ("learner.epochs.x=1", "node 'learner' option 'epochs.x' does not exist"),
    ("learner.nope=1", "node 'learner' has no option 'nope'; its options are epochs, batch_size"),
    ("nobody.epochs=1", "--set names: there is no node 'nobody' in the workflow"),
    ("learner=3", "--set 'learner=3' must look like NODE.OPTION=VALUE"),
    ("learner..x=3", "must look like NODE.OPTION=VALUE"),
    ("learner.epochs=" + "[" * 5000, "is too large or nested too deeply to be an option"),
    ("learner.targets=" + "[" * 100 + "]" * 100, "--set learner.targets nests JSON deeper than 64 levels"),
]


@pytest.mark.parametrize("expr,expected", SET_CASES)
def test_a_bad_set_is_one_sentence_with_exit_2(capsys, expr, expected):
    code = cli.main(["run", str(ROOT / "examples" / "mnist_cnn.json"), "--set", expr, "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and expected in err, err
    check_sentence(err, expr)
    assert len(err) < 700  # values echoed are cut to 200 characters


def test_a_good_set_changes_the_option_and_the_workflow_still_saves_and_loads(workflows):
    wf = copy.deepcopy(workflows["mnist_cnn.json"])
    for expr in ["learner.epochs=3", "learner.targets.0.loss=mse", "learner.targets.0.columns.0=label",
                 "conv1.kernel_size=[5, 5]", "learner.learning_rate=1e-2", "dense.units=12"]:
        _set(wf, expr)
    cfg = wf.nodes["learner"].config
    assert (cfg["epochs"], cfg["targets"][0]["loss"], cfg["targets"][0]["columns"], cfg["learning_rate"]) == \
        (3, "mse", ["label"], 0.01)
    assert (wf.nodes["conv1"].config["kernel_size"], wf.nodes["dense"].config["units"]) == ([5, 5], 12)
    assert Workflow.loads(wf.dumps()).to_json() == wf.to_json()


@pytest.mark.parametrize("name", EXAMPLES)
def test_generated_set_expressions_end_in_a_valid_workflow_or_one_sentence(workflows, name):
    wf = workflows[name]

    @settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
    @given(set_expressions(wf))
    def check(expr):
        before = {n: copy.deepcopy(e.config) for n, e in wf.nodes.items()}
        try:
            _set(wf, expr)
        except WorkflowError as e:
            check_sentence(str(e), expr)
            assert len(str(e)) < 1500
            assert {n: e.config for n, e in wf.nodes.items()} == before  # a refused --set changes nothing
            return
        try:
            node_id = expr.split(".", 1)[0]
            entry = wf.nodes[node_id]
            registry.get(entry.type).Config.model_validate(entry.config)
            assert json.loads(json.dumps(entry.config)) == entry.config
            assert Workflow.loads(wf.dumps()).to_json() == wf.to_json()
        finally:
            for n, cfg in before.items():
                wf.nodes[n].config = cfg

    check()
