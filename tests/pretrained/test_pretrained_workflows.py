"""The pretrained nodes through the engine: the cat photo, reduced versions of the two pretrained examples,
a native-format round trip and the nodes' bad-input errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from deepnodes.core import Engine, Workflow

ROOT = Path(__file__).resolve().parents[2]


def _run(wf: Workflow, **kw) -> Engine:
    eng = Engine(wf)
    res = eng.run(**kw)
    assert res.ok, {n: s.message for n, s in eng.status.items() if s.state != "executed"}
    return eng


CAT_SOURCE = """\
from skimage import data
from deepnodes.table.arrow import encode_png, mark
img = encode_png(data.chelsea())
output_table = pa.Table.from_arrays([pa.array([img], pa.binary())],
                                    schema=pa.schema([mark(pa.field("image", pa.binary()), "image")]))
"""


def test_reader_and_executor_classify_chelsea_as_a_cat():
    wf = Workflow()
    wf.add("deepnodes.python.PythonScript", "photo", {"script": CAT_SOURCE, "table_api": "pyarrow"})
    wf.add("deepnodes.dl.PretrainedNetworkReader", "net", {})
    wf.add("deepnodes.dl.PretrainedImagePreprocess", "prep", {})
    wf.add("deepnodes.dl.NetworkExecutor", "exec", {"inputs": [{"columns": ["image"], "converter": "tensor"}],
                                                     "output_format": "tensor"})
    wf.connect("photo", "table", "prep", "table")
    wf.connect("net", "network", "prep", "network")
    wf.connect("net", "network", "exec", "network")
    wf.connect("prep", "table", "exec", "table")
    eng = Engine(wf)
    st = eng.configure()
    assert st["net"].specs[0].inputs[0].shape == (3, 224, 224)  # known before the weights load
    eng = _run(wf)
    out = eng.output("exec")
    probs = out.column("predictions_softmax").to_pylist()[0]
    top = int(np.argmax(np.asarray(probs).reshape(-1)))
    assert 281 <= top <= 285
    assert out.column("prediction")[0].as_py() in ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")
    net = eng.output("net")
    assert net.metadata["preprocessing"]["mean"][0] == pytest.approx(127 / 255)


def _reduced(name: str, **sets) -> Workflow:
    wf = Workflow.load(ROOT / "examples" / f"{name}.json")
    for path, value in sets.items():
        node, _, opt = path.partition("__")
        wf.set_option(node, opt, value)
    return wf


@pytest.mark.slow
def test_finetune_example_reduced_learns_and_leaves_its_inputs_alone():
    # 40% of the faces for training, 2 epochs: still far above chance; the full example reaches 100%
    wf = _reduced("finetune_pretrained", split__fraction=0.4, learner__epochs=2, learner__head_learning_rate=0.005)
    eng = _run(wf)
    assert eng.status["scorer"].scalars["accuracy"] >= 0.9
    # frozen layers did not change, the new head did, and the upstream networks are untouched
    base = eng.output("pretrained").module.state_dict()
    frozen = eng.output("freeze").module.state_dict()
    trained = eng.output("learner").module.state_dict()
    for k in ("stem.0.weight", "block_16.block._project_conv.weight", "block_3.block._bn1.running_mean"):
        assert torch.equal(base[k], trained[k]) and torch.equal(base[k], frozen[k]), k
    assert not torch.equal(frozen["top.0.weight"], trained["top.0.weight"])
    assert torch.equal(base["top.0.weight"], frozen["top.0.weight"])


@pytest.mark.slow
def test_features_xgboost_example_reduced():
    wf = _reduced("features_xgboost", xgb__n_estimators=40)
    eng = _run(wf)
    assert eng.status["scorer"].scalars["accuracy"] >= 0.95
    assert eng.output("features_train").column("avg_pool").type.shape == [1280]


def test_python_network_example_reduced():
    wf = Workflow.load(ROOT / "examples" / "python_network.json")
    script = wf.nodes["learn"].config["script"].replace("epochs, batch = 10, 64", "epochs, batch = 2, 64")
    wf.set_option("learn", "script", script)
    eng = _run(wf)
    assert eng.status["scorer"].scalars["accuracy"] > 0.85
    assert eng.output("learn", "history").num_rows == 2


def test_native_round_trip_of_a_frozen_pretrained_network(tmp_path):
    from deepnodes.dl.formats.native import load_network, save_network

    wf = Workflow()
    wf.add("deepnodes.dl.PretrainedNetworkReader", "net", {})
    wf.add("deepnodes.dl.FreezeLayers", "freeze", {"mode": "pattern", "pattern": "block_*"})
    wf.add("deepnodes.dl.SetOutputLayers", "outs", {"layers": ["top", "predictions_softmax"]})
    wf.connect("net", "network", "freeze", "network")
    wf.connect("freeze", "network", "outs", "network")
    eng = _run(wf)
    net = eng.output("outs")
    back = load_network(save_network(net, tmp_path / "frozen.dnnet"))
    assert back.spec == net.spec
    assert [layer.name for layer in back.spec.layers if not layer.trainable] == [f"block_{i}" for i in range(1, 17)]
    assert back.metadata["class_names"][281] == "tabby"
    x = torch.rand(2, 3, 224, 224)
    net.module.eval()
    back.module.eval()
    with torch.no_grad():
        for a, b in zip(net.forward(x), back.forward(x)):
            torch.testing.assert_close(a, b)


def test_node_errors_are_sentences():
    wf = Workflow()
    wf.add("deepnodes.dl.PretrainedNetworkReader", "unknown", {"network": "vgg-1"})
    wf.add("deepnodes.dl.PretrainedNetworkReader", "bad_pool", {"include_top": True, "pooling": "max"})
    wf.add("deepnodes.dl.PretrainedNetworkReader", "net", {"include_top": False})
    wf.add("deepnodes.dl.SetOutputLayers", "outs", {"layers": ["dense_9"]})
    wf.add("deepnodes.dl.FreezeLayers", "all", {"mode": "all"})
    wf.add("deepnodes.python.PythonScript", "rows", {"script": "output_table = pd.DataFrame({'image': list(np.zeros("
                                                        "(2, 3, 224, 224), np.float32)), 'y': [0, 1]})"})
    wf.add("deepnodes.dl.NetworkLearner", "learner", {"inputs": [{"columns": ["image"], "converter": "tensor"}],
                                                       "targets": [{"columns": ["y"]}]})
    wf.add("deepnodes.dl.PretrainedImagePreprocess", "prep", {})
    wf.connect("net", "network", "outs", "network")
    wf.connect("net", "network", "all", "network")
    wf.connect("all", "network", "learner", "network")
    wf.connect("rows", "table", "learner", "table")
    wf.connect("rows", "table", "prep", "table")
    eng = Engine(wf)
    st = eng.configure()
    assert st["unknown"].message.startswith("option 'network': there is no pretrained network 'vgg-1'")
    assert st["bad_pool"].message.startswith("option 'pooling' applies only without the classifier")
    assert st["outs"].message.startswith("layer 'dense_9' (option 'layers') is not in the network; its layers are "
                                         "'image', 'stem'")
    assert st["prep"].message == ("option 'size' is empty and no network is connected; set the size or connect "
                                  "the pretrained network")
    res = eng.run()
    assert not res.ok
    assert "every layer is frozen" in eng.status["learner"].message
    json.dumps(eng.report())  # the report serialises


def test_example_files_match_their_builder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_pretrained_examples",
                                                  ROOT / "examples" / "build_pretrained_examples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name in ("finetune_pretrained", "features_xgboost", "python_network"):
        built = getattr(mod, name)().to_json()
        saved = Workflow.load(ROOT / "examples" / f"{name}.json").to_json()
        assert built == saved, f"examples/{name}.json is stale: run examples/build_pretrained_examples.py"
