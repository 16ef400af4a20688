"""Batch inference's arrays as table columns: a tensor column or one number column per unit, plus the predicted
class (names from `metadata["class_names"]`) and its probability for classifier outputs.

    (probs,), _ = predict(network, [x])                                    # dl/infer.py
    out = predictions_table(table, network, [probs], ["probs"], [0])       # + prediction, probability

The probability is read from the output's recorded activation (`convert.output_activation`), never guessed.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .network import Network


def is_classifier(network: Network, i: int, arr_shape: Sequence[int]) -> bool:
    """Whether output `i` gives class probabilities (softmax over several units, one sigmoid unit, or as
    many units as the training classes)."""
    from .convert import output_activation

    act = output_activation(network, i)
    units = arr_shape[-1] if len(arr_shape) > 1 else 1
    names = network.metadata.get("class_names")
    if len(arr_shape) != 2:
        return False
    if act == "softmax" or (names and len(names) == units and units > 1):
        return True
    return act == "sigmoid" and units == 1


def class_columns(network: Network, i: int, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """(class index, probability of it, class names) for a classifier output. The probability is read from the
    output's recorded activation (softmax / sigmoid: the values are probabilities; any other: logits, turned into
    probabilities); None when the activation is not recorded (never guessed: the values could be either)."""
    from .convert import output_activation

    act = output_activation(network, i)
    names = network.metadata.get("class_names")
    prob = None
    if arr.shape[1] == 1:
        p = arr[:, 0]
        if act is not None and act != "sigmoid":
            p = 1 / (1 + np.exp(-p))
        idx = (p > 0.5).astype(np.int64)  # one unit is a classifier only with a recorded sigmoid
        if act is not None:
            prob = np.where(idx == 1, p, 1 - p)
    else:
        idx = arr.argmax(1)  # the same class for probabilities and logits
        if act is not None:
            probs = arr
            if act != "softmax":
                z = arr - arr.max(1, keepdims=True)
                e = np.exp(z)
                probs = e / e.sum(1, keepdims=True)
            prob = probs[np.arange(len(probs)), idx]
    if names is not None and len(names) < int(idx.max(initial=0)) + 1:
        names = None
    return idx, None if prob is None else prob.astype(np.float32), names


def predictions_table(table, network: Network, arrays: list[np.ndarray], names: list[str], out_idx: list[int], *,
                      output_format: str = "tensor", append_class: bool = True,
                      prediction_column: str = "prediction", probability_column: str = "probability",
                      warn: Callable[[str], None] | None = None):
    """`table` with the arrays appended (a tensor column each, or one number column per unit) and, for
    classifier outputs, the predicted class and its probability."""
    import pyarrow as pa

    from deepnodes.table.arrow import set_column, tensor_array

    out = table
    n_cls = 0
    for k, (arr, name) in enumerate(zip(arrays, names)):
        if output_format == "columns" or arr.ndim == 1:
            flat = arr.reshape(len(arr), -1)
            if flat.shape[1] == 1:
                out = set_column(out, name, pa.array(flat[:, 0]))
            else:
                for j in range(flat.shape[1]):
                    out = set_column(out, f"{name}_{j}", pa.array(flat[:, j]))
        else:
            out = set_column(out, name, tensor_array(arr))
        if append_class and k < len(out_idx) and is_classifier(network, out_idx[k], arr.shape):
            idx, prob, cls = class_columns(network, out_idx[k], arr)
            suffix = "" if n_cls == 0 else f"_{name}"
            n_cls += 1
            if cls is not None:
                col = pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(cls, pa.string()))
                out = set_column(out, prediction_column + suffix, col, kind="category", categories=cls)
            else:
                out = set_column(out, prediction_column + suffix, pa.array(idx))
            if prob is None:
                if warn is not None:
                    warn(f"output '{name}': whether it gives probabilities or logits is not recorded, so column "
                         f"'{probability_column + suffix}' is empty; set the Network Reader's option "
                         f"'output_activation'")
                out = set_column(out, probability_column + suffix, pa.nulls(len(idx), pa.float32()))
            else:
                out = set_column(out, probability_column + suffix, pa.array(prob))
    return out
