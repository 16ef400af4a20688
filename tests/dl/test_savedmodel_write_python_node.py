"""A Python Network Creator builds and trains a Keras model on TensorFlow (in TensorFlow's own child process) and
hands it over as a SavedModel (`deepnodes.dl.tf_script`); DeepNodes then executes it on the same rows with
TensorFlow's predictions. A failing TensorFlow script names its line and leaves the old SavedModel."""
import importlib.util
import sys
import textwrap

import numpy as np
import pytest

from deepnodes.core import Engine, Workflow

pytestmark = pytest.mark.slow  # TensorFlow trains in a child process, then the SavedModel is converted and read
if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tf2onnx") is None:
    pytest.skip('the TensorFlow extra is not installed (pip install "deepnodes[tensorflow]")', allow_module_level=True)

IRIS_SOURCE = """\
from sklearn.datasets import load_iris
d = load_iris()
output_table = pd.DataFrame({"features": list(d.data.astype(np.float32)), "label": d.target})
"""

#: runs on Keras' TensorFlow backend, in TensorFlow's child process
TRAIN = """\
from sklearn.datasets import load_iris
d = load_iris()
x, y = d.data.astype("float32"), d.target
keras.utils.set_random_seed(0)
inputs = keras.Input((4,), name="features")
hidden = keras.layers.Dense(16, activation="relu")(inputs)
model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=60, batch_size=32, verbose=0)
print("backend", keras.backend.backend(), "accuracy", round(history.history["accuracy"][-1], 3))
np.save(arguments["predictions"], model.predict(x, verbose=0))
model.export(savedmodel_dir, verbose=False)
"""


def _creator(train: str, folder, predictions) -> dict:
    script = textwrap.dedent(f"""\
        from deepnodes.dl.tf_script import savedmodel_from_tensorflow
        TRAIN = {train!r}
        output_network = savedmodel_from_tensorflow(TRAIN, {str(folder)!r},
                                                    arguments={{"predictions": {str(predictions)!r}}})
        """)
    return {"script": script, "inputs": [{"name": "features", "shape": [4]}],
            "outputs": [{"name": "output_0", "shape": [3]}], "output_activation": "softmax"}


def test_creator_hands_over_a_keras_model_trained_on_tensorflow(tmp_path):
    folder, preds = tmp_path / "iris_tf", tmp_path / "tf_predictions.npy"
    wf = Workflow()
    wf.add("deepnodes.python.PythonScript", "src", {"script": IRIS_SOURCE})
    wf.add("deepnodes.python.PythonNetworkCreator", "create", _creator(TRAIN, folder, preds))
    wf.add("deepnodes.python.PythonNetworkExecutor", "apply", {"script": (
        "x = column_tensor(input_table, 'features', torch.float32)\n"
        "with torch.no_grad():\n"
        "    probs = input_network(x)[0].numpy()\n"
        "output_table = input_table.copy()\n"
        "output_table['probs'] = list(probs)\n"
        "output_table['prediction'] = probs.argmax(1)\n")})
    wf.connect("create", "network", "apply", "network")
    wf.connect("src", "table", "apply", "table")
    eng = Engine(wf)
    logs: list[dict] = []
    eng.subscribe(lambda e: logs.append(e) if e.get("type") == "log" else None)
    res = eng.run()
    assert res.ok, {n: s.message for n, s in eng.status.items()}
    assert (folder / "saved_model.pb").is_file()
    assert any("backend tensorflow accuracy" in str(e.get("message", e.get("line", ""))) for e in logs), logs[-5:]
    out = eng.output("apply")
    probs = np.stack(out.column("probs").to_numpy(zero_copy_only=False))
    tf_probs = np.load(preds)
    assert np.max(np.abs(probs - tf_probs)) < 1e-5  # DeepNodes runs it as TensorFlow did
    acc = float((out.column("prediction").to_numpy() == out.column("label").to_numpy()).mean())
    assert acc > 0.9
    assert "tensorflow" not in sys.modules

    # a failing TensorFlow script: one sentence naming its line; the SavedModel already there stays
    before = sorted((p.name, p.stat().st_size) for p in folder.rglob("*"))
    wf2 = Workflow()
    wf2.add("deepnodes.python.PythonNetworkCreator", "create",
            _creator("model = keras.Sequential()\nmodel.fit(undefined_data)\n", folder, preds))
    eng2 = Engine(wf2)
    assert not eng2.run().ok
    assert eng2.status["create"].message == ("line 3 of the script: TensorFlowCodeError: line 2 of the TensorFlow "
                                             "code: NameError: name 'undefined_data' is not defined")
    assert sorted((p.name, p.stat().st_size) for p in folder.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iris_tf", "tf_predictions.npy"]
