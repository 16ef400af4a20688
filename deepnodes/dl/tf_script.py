"""A Keras model built and trained on TensorFlow by the user's code, handed over to DeepNodes as a SavedModel.

In a Python Network Creator (or any Python node):

    from deepnodes.dl.tf_script import savedmodel_from_tensorflow
    output_network = savedmodel_from_tensorflow(TRAIN, "models/iris_tf")   # TRAIN: code as a string

`TRAIN` runs in TensorFlow's own child process (`formats.tf_env`: Keras on its TensorFlow backend; the torch
process never imports TensorFlow). It sees `tf`, `keras`, `np`, `savedmodel_dir` and `arguments` (the JSON-able
value passed as `arguments=`), and must end by writing a SavedModel into `savedmodel_dir`, e.g.
`model.export(savedmodel_dir)` (a `serving_default` signature). The folder is written beside the old one and
switched into place only once the code finished and a SavedModel is there (`core.atomic_files`); a failure
leaves the old folder as it was. The SavedModel is then read like the Network Reader's format `savedmodel`
(ONNX Runtime after tf2onnx, else TensorFlow) and its module returned: inference only, no fine-tuning in torch.
What the code prints comes back to the node's log once it finished; an error names the line of the code.
This module imports neither torch nor TensorFlow at its top (its `run_code` job runs in the child).
"""
from __future__ import annotations

from pathlib import Path

SCRIPT = "the TensorFlow code"


class TensorFlowCodeError(Exception):
    """The TensorFlow code or its SavedModel failed (the message is one sentence naming the line)."""


def savedmodel_from_tensorflow(code: str, folder: str | Path, arguments=None, timeout: float = 3600.0,
                               signature: str = "serving_default"):
    """Run `code` in a TensorFlow child process (see the module docstring) and return the SavedModel it wrote
    into `folder` as a torch module (forward(*inputs) -> tuple of outputs, in the signature's sorted names)."""
    from deepnodes.core.atomic_files import RefusedWrite, replace_dir

    from .formats.savedmodel_read import import_savedmodel, is_savedmodel
    from .formats.tf_env import TFError, run_tf

    folder = Path(folder).expanduser()
    printed: list[str] = []

    def write(tmp: Path) -> None:
        result, _ = run_tf("deepnodes.dl.tf_script:run_code", {"code": code, "folder": str(tmp),
                                                                "arguments": arguments}, timeout=timeout)
        printed.extend(result.get("printed", []))

    try:
        replace_dir(folder, write, owned=is_savedmodel, what="SavedModel")
        for line in printed:
            print(line)
        network = import_savedmodel(folder, signature=signature, warn=print)
    except (TFError, RefusedWrite) as e:
        raise TensorFlowCodeError(str(e)) from None
    except ValueError as e:
        raise TensorFlowCodeError(f"the SavedModel written by {SCRIPT} cannot be read: {e}") from None
    return network.module


def run_code(args: dict, arrays: dict) -> dict:
    """Job (in the TensorFlow child): run the user's code; it writes a SavedModel into args['folder']."""
    import numpy as np

    from deepnodes.scripting import ScriptError, run_script

    from .formats.tf_env import tensorflow

    tf = tensorflow()
    import keras

    printed: list[str] = []
    ns = {"tf": tf, "keras": keras, "np": np, "savedmodel_dir": args["folder"], "arguments": args.get("arguments")}
    try:
        run_script(args["code"], ns, lambda line, level="info": printed.append(line))
    except ScriptError as e:
        raise ValueError(str(e).replace("of the script", f"of {SCRIPT}", 1)) from None
    finally:
        keras.backend.clear_session()
    if not (Path(args["folder"]) / "saved_model.pb").is_file():
        raise ValueError(f"{SCRIPT} wrote no SavedModel into savedmodel_dir; end it with model.export(savedmodel_dir)")
    return {"printed": printed[-200:]}
