"""tf_env: TensorFlow work in a child process — answers, one-sentence failures, time limits, restarts, and
TensorFlow never imported by the test (torch) process."""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

from deepnodes.dl.formats.tf_env import TFError, TFWorker, _pack, _unpack, require_tensorflow, run_tf, tensorflow

needs_tf = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                              reason='the TensorFlow extra is not installed (pip install "deepnodes[tensorflow]")')


def test_messages_carry_arrays_and_json_without_pickle():
    arrays = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array([[1, 2]], np.int64),
              "mask": np.array([True, False]), "empty": np.zeros((0, 4), np.float16)}
    head, back = _unpack(_pack({"job": "a:b", "args": {"n": [1, 2.5, None, "s"]}}, arrays)[8:])
    assert head == {"job": "a:b", "args": {"n": [1, 2.5, None, "s"]}}
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype and np.array_equal(back[k], v)
    with pytest.raises(ValueError):  # an object array would need pickle: refused on reading
        _unpack(_pack({}, {"o": np.array([{"a": 1}], dtype=object)})[8:])


def test_tensorflow_is_refused_outside_the_child():
    assert os.environ.get("DEEPNODES_TF_CHILD") != "1"
    with pytest.raises(RuntimeError, match="only in DeepNodes' TensorFlow child process"):
        tensorflow()


def test_the_missing_extra_is_named(monkeypatch):
    import deepnodes.dl.formats.tf_env as tf_env

    monkeypatch.setattr(tf_env.importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(TFError, match=r'^writing a SavedModel needs TensorFlow \(tensorflow and tf2onnx not '
                                      r'installed\); install the extra: pip install "deepnodes\[tensorflow\]"$'):
        require_tensorflow("writing a SavedModel", tf2onnx=True)


@needs_tf
@pytest.mark.slow
def test_a_worker_answers_restarts_and_fails_in_sentences(tmp_path):
    with TFWorker(setup=("deepnodes.dl.formats.tf_env:version", {})) as w:
        info, _ = w.call("deepnodes.dl.formats.tf_env:version")
        assert info["tensorflow"].split(".")[0] == "2" and w.setup_result == info
        # a job's ValueError: its sentence, the child lives on
        with pytest.raises(TFError, match=r"^the folder nothing is not a TensorFlow SavedModel \(it has no "
                                          r"saved_model.pb\)$"):
            w.call("deepnodes.dl.formats.savedmodel_jobs:prepare", {"path": str(tmp_path / "nothing")})
        pid = w._proc.pid
        # any other exception: one sentence naming its type
        with pytest.raises(TFError, match=r"^TensorFlow failed \(KeyError: 'model'\)$"):
            w.call("deepnodes.dl.formats.savedmodel_jobs:predict", {}, {})
        assert w._proc.pid == pid
        # only functions of deepnodes modules are jobs
        with pytest.raises(TFError, match="'os:system' is not a function of a deepnodes module"):
            w.call("os:system", {"command": "true"})
        # a child that died is replaced on the next call (its setup runs again)
        w._proc.kill()
        w._proc.wait()
        assert w.call("deepnodes.dl.formats.tf_env:version")[0] == info and w._proc.pid != pid
    assert w._proc is None
    # the time limit: the child is stopped and the sentence says so
    with pytest.raises(TFError, match=r"^TensorFlow did not finish within 0.01 s \(the child process was stopped\)$"):
        run_tf("deepnodes.dl.formats.tf_env:version", timeout=0.01)
    assert "tensorflow" not in sys.modules
