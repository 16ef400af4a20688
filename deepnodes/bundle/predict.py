"""Runs a DeepNodes bundle without DeepNodes or torch: only onnxruntime, numpy and pillow (and sentencepiece for a
subword tokenizer's text).

    python predict.py IMAGE_TEXT_OR_ROWS...

Each argument is an image file (for an image input), a text (for a text input) or a JSON file holding a list of
rows ({"image": "<base64 PNG/JPEG>"} or {"image": "path/to/file.png"}; {"text": "..."}; {"x1": 1.5, "x2": 3, ...}
for number columns). Prints one JSON row per input row: the
network's outputs and, for a classifier, the predicted class and its probability. The preprocessing is read from
bundle.json (the steps the workflow ran before its Network Executor), so the numbers match the workflow's.
"""
from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
try:  # inside DeepNodes (deepnodes.bundle.predict)
    from .imaging import convert_channels, pil_to_chw, scale_values
except ImportError:  # a script in a bundle: imaging.py, DeepNodes' own image preparation, lies beside it
    sys.path.insert(0, str(HERE))
    from imaging import convert_channels, pil_to_chw, scale_values


class StepError(SystemExit):
    """A step refused a row (the message says which row and column; `step` is the step, with its workflow node)."""

    def __init__(self, message: str, step: dict):
        super().__init__(message)
        self.step = step


def _image(value, column: str, row: int):
    from PIL import Image

    if isinstance(value, Image.Image):  # decoded already (the service decodes a request's image to check it)
        return value
    data = value
    if isinstance(value, str):
        p = Path(value)
        data = p.read_bytes() if p.is_file() else base64.b64decode(value, validate=True)
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception:  # noqa: BLE001 - PIL raises many types for broken files
        raise SystemExit(f"error: column '{column}' row {row}: not an image PIL can read") from None
    return im


def image_step(values, step: dict) -> np.ndarray:
    """Decode, convert, resize (PIL bilinear) and scale, as DeepNodes' Image to Tensor: (N, C, H, W). A tensor
    from an earlier step is converted and scaled (the export refuses resizing one)."""
    if isinstance(values, np.ndarray):
        return scale_values(convert_channels(values, step["mode"]), step["scale"])
    arrays = [pil_to_chw(_image(v, step["column"], i), step["mode"], step.get("size")) for i, v in enumerate(values)]
    return scale_values(np.stack(arrays).astype(np.uint8), step["scale"])


def normalize_step(values, step: dict):
    """DeepNodes' Normalizer Apply with the fitted normalizer's JSON: y = (x - offset) * scale + shift, in float64
    (number columns: a dict column -> values; an image chain's (N, C, H, W) tensor as a whole, back to float32)."""
    norm = step["normalizer"]
    if not isinstance(values, dict):
        p = norm["columns"].get(step.get("column"))
        if p is None:  # the normalizer does not touch the image column
            return values
        x = np.asarray(values, np.float32)
        return ((x - np.float64(p["offset"])) * np.float64(p["scale"]) + norm["shift"]).astype(np.float32)
    out = dict(values)
    for name, p in norm["columns"].items():
        if name in out:
            x = _floats(out[name], name)
            out[name] = (x - np.float64(p["offset"])) * np.float64(p["scale"]) + norm["shift"]
    return out


def category_step(values: dict, step: dict) -> dict:
    """DeepNodes' Category to Number with the declared categories: start, start+1, ... in category order."""
    out = dict(values)
    for name, cats in step["columns"].items():
        index = {c: k + step["start"] for k, c in enumerate(cats)}
        bad = [i for i, v in enumerate(values[name]) if v not in index]
        if bad:
            raise SystemExit(f"error: row {bad[0]}, column '{name}': {str(values[name][bad[0]])[:80]!r} is not one of "
                             f"the categories {', '.join(map(repr, cats[:20]))}")
        out[name + step["suffix"]] = [index[v] for v in values[name]]
    return out


WORD_RE = r"\w+(?:['’]\w+)*|[^\w\s]"  # DeepNodes' word tokens: words (with apostrophes) and punctuation marks
PAD, START, END, UNK = 0, 1, 2, 3  # the special ids of every DeepNodes dictionary
_SP: dict = {}  # sentencepiece processors by model file


def text_step(values, step: dict, folder: Path = HERE) -> np.ndarray:
    """DeepNodes' Text to Index Sequence with the dictionary as data: token ids (characters, words, or the
    sentencepiece model's subwords; <unk> for the rest), optional <s> / </s>, truncation keeping </s> (or <s>),
    padding to `length` or the longest row: (N, L) int32."""
    import re

    ids = []
    for i, t in enumerate(values):
        if t is not None and not isinstance(t, str):
            raise SystemExit(f"error: row {i}, column '{step['column']}': expected text")
        t = (t or "").lower() if step["lowercase"] else (t or "")
        if step["level"] == "subword":
            path = str(Path(folder) / step["model_file"])
            if path not in _SP:
                import sentencepiece as spm

                _SP[path] = spm.SentencePieceProcessor(model_file=path)
            a = list(_SP[path].encode(t, out_type=int))
        else:
            index = step.get("_index")
            if index is None:
                index = step["_index"] = {k: j for j, k in enumerate(step["tokens"]) if j >= 4}
            pieces = list(t) if step["level"] == "character" else re.findall(WORD_RE, t)
            a = [index.get(p, UNK) for p in pieces]
        ids.append(([START] if step["add_start"] else []) + a + ([END] if step["add_end"] else []))
    n = step["length"]
    out = np.full((len(ids), n if n is not None else max((len(a) for a in ids), default=0)), PAD, np.int32)
    for i, a in enumerate(ids):
        if n is not None and len(a) > n:
            if step["truncating"] == "post":
                a = a[:n]
                a[-1] = END if step["add_end"] else a[-1]
            else:
                a = a[len(a) - n:]
                a[0] = START if step["add_start"] else a[0]
        if a:
            if step["padding"] == "post":
                out[i, :len(a)] = a
            else:
                out[i, out.shape[1] - len(a):] = a
    return out


def _floats(vals, name: str) -> np.ndarray:
    if isinstance(vals, np.ndarray):
        return vals.astype(np.float64)
    for i, v in enumerate(vals):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SystemExit(f"error: row {i}, column '{name}': expected a number")
    return np.asarray(vals, np.float64)


def predict(rows: list[dict], folder: str | Path = HERE) -> list[dict]:
    """Rows in, rows out (see the module docstring); `folder` holds bundle.json and the network."""
    import onnxruntime as ort

    folder = Path(folder)
    b = json.loads((folder / "bundle.json").read_text())
    sess = ort.InferenceSession(str(folder / b["network"]), providers=["CPUExecutionProvider"])
    return answer(b, sess.run([o["name"] for o in b["outputs"]], feeds(b, rows, folder)), len(rows))


def feeds(b: dict, rows: list[dict], folder: Path = HERE) -> dict:
    """The network's inputs for `rows`, prepared by the steps of bundle.json's content `b` (`folder` holds the
    files steps name: a sentencepiece model)."""
    feeds = {}
    for inp in b["inputs"]:
        raw = inp.get("raw_columns") or inp.get("columns") or [inp["column"]]
        for col in raw:
            missing = [i for i, r in enumerate(rows) if col not in r]
            if missing:
                raise SystemExit(f"error: row {missing[0]} has no column '{col}'")
        # number columns travel as a dict column -> values until the network's matrix is made; an image as its array
        x = {c: [r[c] for r in rows] for c in raw} if "columns" in inp else [r[raw[0]] for r in rows]
        for step in inp["steps"]:
            try:
                x = text_step(x, step, folder) if step["op"] == "text" else \
                    {"image": image_step, "normalize": normalize_step, "category": category_step}[step["op"]](x, step)
            except SystemExit as e:
                raise StepError(str(e), step) from None
        if isinstance(x, dict):
            x = np.stack([_floats(x[c], c) for c in inp["columns"]], axis=1) if rows else \
                np.zeros((0, len(inp["columns"])))
        feeds[inp["name"]] = np.asarray(x, dtype=inp["dtype"])
    return feeds


def answer(b: dict, outs: list, n: int) -> list[dict]:
    """The network's outputs for `n` rows (in bundle.json's output order) as rows: each output's values and, for
    a classifier, the predicted class and its probability."""
    result = [{} for _ in range(n)]
    for o, arr in zip(b["outputs"], outs):
        for i, r in enumerate(result):
            r[o["name"]] = arr[i].tolist()
        names = o.get("class_names")
        if o.get("activation") == "softmax" and arr.ndim == 2:  # the class (its index when it has no names)
            for i, r in enumerate(result):
                k = int(arr[i].argmax())
                r[b.get("prediction_column", "prediction")] = names[k] if names else k
                r[b.get("probability_column", "probability")] = float(arr[i, k])
    return result


def _rows(args: list[str], column: str | None) -> list[dict]:
    rows: list[dict] = []
    for a in args:
        if a.endswith(".json"):
            rows += json.loads(Path(a).read_text())
        elif column is None:
            raise SystemExit(f"error: '{a}' is not a .json file of rows; this bundle takes number columns")
        else:
            rows.append({column: a})
    return rows


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    b = json.loads((HERE / "bundle.json").read_text())
    for r in predict(_rows(argv, b["inputs"][0].get("column"))):
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
