"""`deepnodes export WORKFLOW.json --out DIR`: the trained network of a Network Executor, from saved results,
as a folder that runs without DeepNodes and without torch.

The folder holds `network.onnx`, `bundle.json` (the preprocessing as data: the row-wise steps between the
Executor's table and its source, each network output's activation and class names), `predict.py` and `imaging.py`
(this package's runner and the image preparation DeepNodes itself uses, copied: onnxruntime, numpy and pillow only), `requirements.txt` and a `README.md`. It is
written beside an old bundle and swapped in (`core.atomic_files.replace_dir`); a folder that is not a bundle is
never replaced. Preprocessing steps carried so far: Image to Tensor (decode, grayscale/RGB, PIL bilinear
resize, scale), Normalizer Apply (the fitted normalizer's own JSON: offset, scale, shift per column), on an
image column or on the number columns the Executor reads, Category to Number (the declared categories), and Text to
Index Sequence (its options and dictionary: tokens, or a subword tokenizer's sentencepiece model as a file; the
bundle then needs sentencepiece too). Any other node between the source and the Executor is refused with a sentence
naming it, and so is a node running the network in its own loop (a Sequence Decoder: serve that workflow instead).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

EXECUTOR = "deepnodes.dl.NetworkExecutor"
SERVICE_INPUT = "deepnodes.service.ServiceInput"
IMAGE_TO_TENSOR = "deepnodes.data.ImageToTensor"
NORMALIZER_APPLY = "deepnodes.data.NormalizerApply"
CATEGORY_TO_NUMBER = "deepnodes.data.CategoryToNumber"
TEXT_TO_INDEX = "deepnodes.text.TextToIndexSequence"
REQUIREMENTS = ("onnxruntime", "numpy", "pillow")  # and sentencepiece for a subword tokenizer's steps
MARKER = "bundle.json"


class BundleError(ValueError):
    """The workflow cannot be exported as a bundle (the message says why)."""


def _label(wf, nid: str) -> str:
    return f"node '{nid}' ({wf.nodes[nid].label})"


def _executor(wf) -> str:
    ids = [n for n, d in wf.nodes.items() if d.type == EXECUTOR]
    if not ids:
        users = [n for n in wf.topological_order() if wf.nodes[n].type != "deepnodes.dl.NetworkLearner" and
                 {"network", "table"} <= {p.type for p in wf.instantiate(n).inputs}]  # run a network on rows
        served = [n for n in users if any(wf.nodes[a].type == SERVICE_INPUT for a in wf.ancestors(n))]
        if served or users:
            nid = (served or users)[0]
            raise BundleError(f"{_label(wf, nid)} runs its network in a loop of its own (one call per step), which "
                              "a bundle does not carry: a bundle runs one Network Executor after row-wise steps; "
                              f"serve this workflow instead (deepnodes serve-workflow)")
        raise BundleError(f"the workflow '{wf.name}' has no Network Executor; a bundle runs the network of one")
    served = [n for n in ids if any(wf.nodes[a].type == SERVICE_INPUT for a in wf.ancestors(n))]
    pick = served or ids
    if len(pick) > 1:
        raise BundleError(f"the workflow '{wf.name}' has {len(pick)} Network Executors ({', '.join(pick)}); "
                          "add a Service Input before the one to export")
    return pick[0]


def _normalizer(wf, nid: str, engine) -> dict:
    """The fitted normalizer a Normalizer Apply node uses, as its own JSON (from the saved results)."""
    if wf.instantiate(nid).config.inverse:
        raise BundleError(f"{_label(wf, nid)} maps values back (option 'inverse'); a bundle carries the forward "
                          "normalization only")
    return _saved_input(wf, nid, "model", "normalizer", engine).to_json()


def _saved_input(wf, nid: str, port: str, what: str, engine):
    """The saved result connected to input `port` of node `nid` (a normalizer, a dictionary), or a sentence."""
    from deepnodes.core import WorkflowError

    src = wf.upstream(nid).get(port)
    if src is None:
        raise BundleError(f"{_label(wf, nid)} has no {what} connected")
    try:
        return engine.output(*src)
    except WorkflowError:
        raise BundleError(f"{_label(wf, src[0])} has no saved result; run it first (--save-results)") from None


def _steps(wf, ex_id: str, engine) -> tuple[list[dict], str]:
    """The row-wise steps feeding the Executor's table (Image to Tensor, Normalizer Apply), source first, and the
    source node."""
    steps: list[dict] = []
    ups = wf.upstream(ex_id)
    if "table" not in ups:
        raise BundleError(f"{_label(wf, ex_id)} has no table connected")
    nid = ups["table"][0]
    while wf.nodes[nid].type in (IMAGE_TO_TENSOR, NORMALIZER_APPLY, CATEGORY_TO_NUMBER, TEXT_TO_INDEX):
        if wf.nodes[nid].type == NORMALIZER_APPLY:
            steps.insert(0, {"op": "normalize", "normalizer": _normalizer(wf, nid, engine)})
        elif wf.nodes[nid].type == CATEGORY_TO_NUMBER:
            steps.insert(0, _categories(wf, nid, engine))
        elif wf.nodes[nid].type == TEXT_TO_INDEX:
            steps.insert(0, _text(wf, nid, engine))
        else:
            c = wf.instantiate(nid).config
            steps.insert(0, {"op": "image", "column": c.column, "output_column": c.output_column or c.column,
                             "size": list(c.size) if c.size else None, "mode": c.mode, "scale": c.scale})
        steps[0]["node"] = nid  # the workflow node the step comes from (the service names it when a row fails)
        if "table" not in wf.upstream(nid):
            raise BundleError(f"{_label(wf, nid)} has no table connected")
        nid = wf.upstream(nid)["table"][0]
    column = None
    for s in steps:  # a normalizer after an image chain scales the column the chain writes
        if s["op"] == "image":
            column = s["output_column"]
        elif s["op"] == "normalize" and column is not None:
            s["column"] = column
    return steps, nid


def _categories(wf, nid: str, engine) -> dict:
    """A Category to Number step: the categories of its columns as the table before it declares them (a Service
    Input's category columns with their values), so the numbers do not depend on which rows a request sends."""
    c = wf.instantiate(nid).config
    src, port = wf.upstream(nid)["table"]
    ports = [p.name for p in wf.instantiate(src).outputs]
    specs = engine.status[src].specs or []
    spec = specs[ports.index(port) if isinstance(port, str) else port] if specs else None
    cats = {}
    for name in c.columns:
        col = next((x for x in spec.columns if x.name == name), None) if spec is not None else None
        if col is None or not col.categories:
            raise BundleError(f"{_label(wf, nid)} numbers column '{name}' by the categories a table happens to hold; "
                              f"declare them where the column comes from (e.g. a Service Input category column "
                              "with its values) so a bundle maps every row the same way")
        cats[name] = list(col.categories)
    return {"op": "category", "columns": cats, "start": c.start, "suffix": c.suffix}


def _text(wf, nid: str, engine) -> dict:
    """A Text to Index Sequence step: its options and its dictionary as data (the tokens of a character or word
    dictionary; a subword tokenizer's sentencepiece model, written beside bundle.json as `model_file`)."""
    c = wf.instantiate(nid).config
    if c.teacher_forcing or not c.pad:
        what = ("decoder input and target columns (option teacher_forcing)" if c.teacher_forcing else
                "unpadded token sequences (option pad off)")
        raise BundleError(f"{_label(wf, nid)} writes {what}; a bundle carries padded id tensors for a network's input")
    vocab = _saved_input(wf, nid, "dictionary", "dictionary", engine)
    step = {"op": "text", "column": c.text_column, "output_column": c.output_column or f"{c.text_column}_ids",
            "add_start": c.add_start, "add_end": c.add_end, "length": c.length, "padding": c.padding,
            "truncating": c.truncating, "level": vocab.level, "lowercase": vocab.lowercase}
    if vocab.level == "subword":
        step["model_file"] = f"{nid}.model"
        step["model"] = vocab.sp_model  # bytes: written as model_file, never into bundle.json
    else:
        step["tokens"] = list(vocab.tokens)
    return step


def _chain_steps(wf, ex_id: str, steps: list[dict], nid: str) -> list[dict]:
    """The steps of a text chain (a Text to Index Sequence, source first) or of an image chain."""
    if any(s["op"] == "text" for s in steps):
        if len(steps) != 1:
            raise BundleError(f"the steps before {_label(wf, ex_id)} mix Text to Index Sequence with other "
                              "steps; a bundle carries one Text to Index Sequence on a text column")
        return steps
    return _image_steps(wf, ex_id, steps, nid)


def _image_steps(wf, ex_id: str, steps: list[dict], nid: str) -> list[dict]:
    """The image chain's checks; its steps (source first)."""
    steps = [s for s in steps if s["op"] == "image"]
    if not steps:
        raise BundleError(f"{_label(wf, ex_id)} reads its table from {_label(wf, nid)}; a bundle carries image "
                          "inputs prepared by Image to Tensor and number columns (normalized or not) so far")
    later = [s for s in steps[1:] if s["size"]]
    if later:
        raise BundleError(f"an Image to Tensor step before {_label(wf, ex_id)} resizes a tensor column (column "
                          f"'{later[0]['column']}'); a bundle resizes only while decoding: set option 'size' on the "
                          "first Image to Tensor")
    chain = [s["output_column"] for s in steps[:-1]]
    if any(s["column"] != prev for s, prev in zip(steps[1:], chain)):
        raise BundleError(f"the Image to Tensor steps before {_label(wf, ex_id)} read different columns; a bundle "
                          "carries one chain of steps on one column")
    return steps


def _engine(wf, workflow_path: Path):
    from deepnodes.core import Engine

    engine = Engine(wf)
    results = workflow_path.with_suffix(".results")
    if results.is_dir():
        engine.load_results(results)
    engine.configure()
    return engine


def _network(wf, ex_id: str, workflow_path: Path, engine):
    from deepnodes.core import WorkflowError

    src = wf.upstream(ex_id).get("network")
    if src is None:
        raise BundleError(f"{_label(wf, ex_id)} has no network connected")
    try:
        return engine.output(*src)
    except WorkflowError:
        raise BundleError(f"{_label(wf, src[0])} has no saved result; run it first "
                          f"(deepnodes run {workflow_path} --save-results; results saved under other options do not count)") from None


def plan(workflow_path: str | Path) -> tuple[dict, object]:
    """(bundle.json's content, the trained network) for a workflow file; BundleError with a sentence. A text
    step of a subword tokenizer holds its sentencepiece model's bytes under "model" (written as its file)."""
    from deepnodes.core import Workflow

    wf = Workflow.load(workflow_path)
    ex_id = _executor(wf)
    return plan_for(wf, ex_id, _engine(wf, Path(workflow_path)), Path(workflow_path))


def plan_for(wf, ex_id: str, engine, workflow_path: Path) -> tuple[dict, object]:
    """`plan` for the Executor `ex_id` of a loaded workflow whose `engine` holds the loaded results (the service's
    fast path compiles its segment with this, so the service and the bundle prepare rows the same way)."""
    from deepnodes.dl.convert import output_activation

    steps, source = _steps(wf, ex_id, engine)
    network = _network(wf, ex_id, workflow_path, engine)
    spec = network.spec
    ex = wf.instantiate(ex_id).config
    if len(spec.inputs) != 1:
        raise BundleError(f"the network of {_label(wf, ex_id)} has {len(spec.inputs)} inputs; a bundle carries "
                          "networks with one input so far")
    bound = list(ex.inputs[0].columns if hasattr(ex.inputs[0], "columns") else ex.inputs[0]["columns"]) \
        if ex.inputs else []
    if not any(s["op"] in ("image", "text") for s in steps) and bound:  # number columns, normalized or not
        raw = list(bound)
        for s in reversed(steps):  # the request columns a Category to Number step renamed (its suffix)
            if s["op"] == "category":
                raw = [next((n for n in s["columns"] if n + s["suffix"] == b), b) for b in raw]
        inp = {"name": spec.inputs[0].name, "columns": bound, "raw_columns": raw, "dtype": "float32",
               "shape": list(spec.inputs[0].shape), "steps": steps}
    else:
        images = _chain_steps(wf, ex_id, steps, source)
        if bound and bound != [images[-1]["output_column"]]:
            raise BundleError(f"option 'inputs' of {_label(wf, ex_id)} does not read the column '"
                              f"{images[-1]['output_column']}' its {wf.nodes[images[-1]['node']].label} step writes")
        inp = {"name": spec.inputs[0].name, "column": images[0]["column"],
               "dtype": spec.inputs[0].dtype,  # what the ONNX file takes (uint8 pixels of scale 'none' are cast)
               "shape": list(spec.inputs[0].shape), "steps": steps}
    names = network.metadata.get("class_names")
    outputs = []
    for i, t in enumerate(spec.outputs):
        act = output_activation(network, i)
        outputs.append({"name": t.name, "shape": list(t.shape), "activation": act,
                        "class_names": list(names) if names and act == "softmax" else None})
    bundle = {"format": "deepnodes-bundle/1", "workflow": wf.name, "source_node": source,
              "network": "network.onnx",
              "inputs": [inp],
              "outputs": outputs, "prediction_column": ex.prediction_column,
              "probability_column": ex.probability_column}
    return bundle, network


README = """# {name}: a DeepNodes bundle

Runs the trained network of the workflow '{name}' without DeepNodes or torch.

    python -m venv venv && venv/bin/pip install -r requirements.txt
    venv/bin/python predict.py {usage}

Each line printed is one row: {outputs}{cls}.
- `network.onnx`: the network (ONNX, dynamic batch axis; input '{input}' {shape}).
- `bundle.json`: the preprocessing the workflow ran before its Network Executor, as data: {steps}.
"""


def _readme(b: dict) -> str:
    steps = "; ".join(f"image decode, mode {s['mode']}, size {s['size'] or 'kept'}, scale {s['scale']}"
                      if s["op"] == "image" else f"{s['normalizer']['method']} normalization of "
                      f"{', '.join(s['normalizer']['columns'])}" if s["op"] == "normalize" else
                      f"categories to numbers ({', '.join(s['columns'])})" if s["op"] == "category" else
                      f"text to ids with the {s['level']} dictionary (length {s['length'] or 'of the longest row'})"
                      for s in b["inputs"][0]["steps"]) or "none"
    cls = any(o["class_names"] for o in b["outputs"])
    column = b["inputs"][0].get("column")
    ops = {s["op"] for s in b["inputs"][0]["steps"]}
    usage = (f'image1.png image2.png     # or rows.json: [{{"{column}": "<base64 PNG>"}}, ...]' if "image" in ops else
             f'"a text" "another text"     # or rows.json: [{{"{column}": "a text"}}, ...]' if "text" in ops else
             "rows.json     # [{" + ", ".join(f'"{c}": 1.5' for c in b["inputs"][0]["raw_columns"]) + "}, ...]")
    return README.format(name=b["workflow"], usage=usage, input=b["inputs"][0]["name"],
                         shape=tuple(b["inputs"][0]["shape"]), steps=steps,
                         outputs=", ".join(f"'{o['name']}' (the network output)" for o in b["outputs"]),
                         cls=f", '{b['prediction_column']}' and '{b['probability_column']}' (the predicted class "
                             "and its probability)" if cls else "")


def export_bundle(workflow_path: str | Path, out: str | Path) -> Path:
    """Write the bundle of a workflow file into the folder `out` (see the module docstring)."""
    from deepnodes.core.atomic_files import RefusedWrite, replace_dir
    from deepnodes.dl.formats.onnx import export_onnx

    bundle, network = plan(workflow_path)

    models = {s["model_file"]: s.pop("model") for s in bundle["inputs"][0]["steps"] if "model" in s}

    def write(tmp: Path) -> None:
        export_onnx(network, tmp / "network.onnx")
        (tmp / MARKER).write_text(json.dumps(bundle, indent=2))
        for name, data in models.items():  # a subword tokenizer's sentencepiece model
            (tmp / name).write_bytes(data)
        for runner in ("predict.py", "imaging.py"):
            shutil.copyfile(Path(__file__).with_name(runner), tmp / runner)
        need = REQUIREMENTS + (("sentencepiece",) if models else ())
        (tmp / "requirements.txt").write_text("\n".join(need) + "\n")
        (tmp / "README.md").write_text(_readme(bundle))

    try:
        return replace_dir(out, write, owned=lambda p: (p / MARKER).is_file(), what="DeepNodes bundle")
    except RefusedWrite as e:
        raise BundleError(str(e)) from None


def add_parser(sub) -> None:
    e = sub.add_parser("export", help="write a portable bundle (ONNX + preprocessing + predict.py, no torch)")
    e.add_argument("workflow", help="workflow JSON file whose Network Executor's network has saved results")
    e.add_argument("--out", required=True, metavar="DIR", help="the bundle folder to write")


def cmd_export(args) -> int:
    import sys

    from deepnodes.core import WorkflowError

    try:
        path = export_bundle(args.workflow, args.out)
    except (BundleError, WorkflowError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote the bundle {path} (python {path}/predict.py IMAGE, TEXT or ROWS.json...; its README.md says which)")
    return 0
