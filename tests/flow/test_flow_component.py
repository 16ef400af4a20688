"""Component: a body workflow as one node (ports, exposed options, nested caching, events, files, bad input)."""
from __future__ import annotations

import json

import pytest

from deepnodes.core import Engine, Workflow, WorkflowError
from deepnodes.core.component import memo_clear
from tests.flow.flow_bodies import IN, OUT, build, executing, outer, sampling_body

COMP = "deepnodes.flow.Component"


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo_clear()


def run(wf: Workflow):
    eng = Engine(wf)
    events: list[dict] = []
    eng.subscribe(events.append)
    res = eng.run()
    return eng, res, events


def test_component_equals_its_body_inlined_and_reports_inner_paths():
    eng, res, events = run(outer(COMP, {"body": sampling_body(0.5)}))
    assert res.ok, eng.status["comp"].message
    got = eng.output("comp", "sample")
    flat = Workflow("flat")
    flat.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"})
    flat.add("deepnodes.data.RowFilter", "small", {"column": "label", "operator": "<", "value": "5"})
    flat.add("deepnodes.data.RowSampling", "samp", {"fraction": 0.5, "seed": 3})
    flat.connect("digits", "table", "small", "table")
    flat.connect("small", "table", "samp", "table")
    feng = Engine(flat)
    assert feng.run().ok
    assert got.equals(feng.output("samp"))
    assert 0 < got.num_rows < 1797 and max(got.column("label").to_pylist()) < 5
    assert executing(events, "comp") == ["comp/small", "comp/samp", "comp/out"]
    assert [p.name for p in eng.workflow.instantiate("comp").outputs] == ["sample"]


def test_exposed_option_is_set_like_any_option_and_changes_only_what_depends_on_it():
    wf = outer(COMP, {"body": sampling_body(0.5), "expose": {"fraction": "samp.fraction"}})
    eng = Engine(wf)
    events: list[dict] = []
    eng.subscribe(events.append)
    assert eng.run().ok
    n_half = eng.output("comp", "sample").num_rows
    events.clear()
    assert eng.run().ok and executing(events, "comp") == []  # nothing changed: the outer node is a cache hit
    wf.set_option("comp", "fraction", 0.25)
    assert wf.nodes["comp"].config["fraction"] == 0.25
    events.clear()
    assert eng.run().ok
    assert eng.output("comp", "sample").num_rows == pytest.approx(n_half / 2, abs=2)
    # inside, the filter's key did not change: it comes from the memo, only the sampling runs again
    assert executing(events, "comp") == ["comp/samp", "comp/out"]


def test_unknown_and_bad_exposed_options_are_one_sentence():
    wf = outer(COMP, {"body": sampling_body(), "expose": {"fraction": "samp.fraction"}})
    with pytest.raises(WorkflowError, match="no option 'epochs'; its options are .*fraction"):
        wf.set_option("comp", "epochs", 3)
    with pytest.raises(WorkflowError, match="'epochs' is neither an option nor an exposed option"):
        Workflow().add(COMP, "c", {"body": sampling_body(), "epochs": 3})
    wf.set_option("comp", "fraction", 7.0)  # valid for the component's config; the inner option refuses it
    eng = Engine(wf)
    st = eng.configure()["comp"]
    assert st.state == "idle" and "exposed option 'fraction'" in st.message and "\n" not in st.message
    with pytest.raises(WorkflowError, match="exposed option 'x' names 'nothere.fraction'"):
        outer(COMP, {"body": sampling_body(), "expose": {"x": "nothere.fraction"}})
    bad2 = Workflow()
    with pytest.raises(WorkflowError, match="node 'samp' has no option 'nope'"):
        bad2.add(COMP, "c", {"body": sampling_body(), "expose": {"x": "samp.nope"}})
        bad2.add("deepnodes.data.DatasetReader", "d", {"dataset": "digits"})
        bad2.connect("d", "table", "c", "table")


def test_a_shared_component_file_change_is_picked_up_and_invalidates_the_key(tmp_path):
    f = tmp_path / "sampler.json"
    f.write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "sampler", **sampling_body(0.5)}))
    wf = outer(COMP, {"body_file": str(f)})
    eng = Engine(wf)
    assert eng.run().ok
    key, rows = eng.status["comp"].key, eng.output("comp", "sample").num_rows
    f.write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "sampler", **sampling_body(0.25)}))
    assert eng.run().ok
    assert eng.status["comp"].key != key
    assert eng.output("comp", "sample").num_rows == pytest.approx(rows / 2, abs=2)


def _cycle_body() -> dict:
    body = sampling_body()
    body["nodes"].append({"id": "samp2", "type": "deepnodes.data.RowSampling", "label": "", "position": [0, 0],
                          "config": {}})
    body["connections"][1] = {"source": "samp2", "source_port": "table", "target": "samp", "target_port": "table"}
    body["connections"].append({"source": "samp", "source_port": "table", "target": "samp2", "target_port": "table"})
    return body


@pytest.mark.parametrize("body, words", [
    (_cycle_body(), "would make a cycle"),
    (build([("in", IN, {"name": "table"}), ("samp", "deepnodes.data.RowSampling", {}), ("out", OUT, {})],
           [("in", "value", "samp", "table")]), "Component Output 'out' is not connected (a dangling port)"),
    (build([("in", IN, {"name": "table"}), ("in2", IN, {"name": "table"}), ("out", OUT, {}),
            ("out2", OUT, {})], [("in", "value", "out", "value"), ("in2", "value", "out2", "value")]),
     "two Component Input nodes named 'table'"),
    (None, "there is no body"),
])
def test_a_broken_body_is_one_sentence_naming_the_node_before_anything_runs(body, words):
    wf = Workflow("outer")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"})
    with pytest.raises(WorkflowError) as err:  # the component's ports come from its body: loading says why
        wf.add(COMP, "comp", {"body": body} if body else {})
        wf.connect("digits", "table", "comp", "table")
    assert words in str(err.value) and "node 'comp'" in str(err.value) and "\n" not in str(err.value)
    alone = Workflow("alone")  # unconnected, the component loads and shows the sentence as its state
    alone.add(COMP, "comp", {"body": body} if body else {})
    st = Engine(alone).configure()["comp"]
    assert st.state == "idle" and words in st.message


def test_component_input_outside_a_body_is_refused_on_the_node():
    wf = Workflow()
    wf.add(IN, "i", {})
    assert "only inside the body" in Engine(wf).configure()["i"].message


def test_a_cancel_reaches_inside_a_component():
    body = build([("in", IN, {"name": "table"}), ("tt", "deepnodes.data.ImageToTensor", {}),
                  ("input", "deepnodes.layers.Input", {"shape": [1, 8, 8], "name": "image"}),
                  ("flatten", "deepnodes.layers.Flatten", {}),
                  ("dense", "deepnodes.layers.Dense", {"units": 10, "activation": "softmax"}),
                  ("learner", "deepnodes.dl.NetworkLearner",
                   {"epochs": 500, "batch_size": 32, "targets": [{"columns": ["class_name"],
                                                                  "loss": "sparse_categorical_crossentropy"}]}),
                  ("out", OUT, {"name": "network", "type": "network"})],
                 [("in", "value", "tt", "table"), ("input", "network", "flatten", "input"),
                  ("flatten", "network", "dense", "input"), ("dense", "network", "learner", "network"),
                  ("tt", "table", "learner", "table"), ("learner", "network", "out", "value")])
    eng = Engine(outer(COMP, {"body": body}))
    epochs: list[int] = []

    def on(ev):
        if ev.get("type") == "metrics" and ev.get("kind") == "epoch" and ev.get("node") == "comp/learner":
            epochs.append(ev["epoch"])
            eng.cancel()  # the inner learner stops at its next check, long before its 500 epochs
    eng.subscribe(on)
    res = eng.run()
    assert res.cancelled and eng.status["comp"].state == "configured" and "cancelled" in eng.status["comp"].message
    assert 1 <= len(epochs) < 10
