"""The TensorFlow side of the SavedModel reader: jobs run in tf_env's child process (never in the torch
process; this module imports neither torch nor, at import, TensorFlow).

- `screen(path)`: what `tf.saved_model.load` and a signature could execute, read from the protobuf before
  TensorFlow loads anything: every op reachable from the signatures and init ops of the graph and from the
  functions the loader restores (the object graph's concrete functions), following function calls (call ops and
  function-valued attributes such as If/While branches). An op of `DANGEROUS` is named in the refusal unless
  trust is on.
- `prepare(args)`: screens, loads, describes the chosen signature (names, shapes, dtypes in the signature's
  sorted key order, as TensorFlow flattens it), runs TensorFlow on seeded sample inputs and converts the
  signature to ONNX with tf2onnx (a conversion failure is reported, not raised: the reader falls back).
- `load(args)` / `predict(args, arrays)`: the TensorFlow executor kept in a long-lived child.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .tf_env import tensorflow

#: op families that reach outside the process: files, Python code, other processes or machines, the console
DANGEROUS = {
    "runs Python code": re.compile(r"PyFunc"),
    "reads or writes files": re.compile(r"File|Save|Restore|Reader|Record|Summary|TextLine|Snapshot|Checkpoint|"
                                        r"Sharded|ImmutableConst|LoadAndRemap|Sql|LMDB|Proto"),
    "runs a tf.data pipeline (which can read files)": re.compile(r"Dataset"),
    "talks to other processes or machines": re.compile(r"Rpc|Gcs|BigQuery|Collective|^_?Send|^_?Recv|^_Host|"
                                                       r"RemoteCall|AllToAll|CrossReplica|Nccl|feed|TPU|Heartbeat"),
    "writes to the console or debug sinks": re.compile(r"Print|Debug|Event"),
}
#: stateful ops reviewed as staying inside the process (variables, random numbers, tables, queues, iterators, ...);
#: any other stateful op is refused as unreviewed (tests/dl/test_savedmodel_read.py lists TensorFlow's registry)
SAFE_STATEFUL = re.compile(
    r"Variable|VarHandle|VarIsInitialized|^Assign|^Resource(Apply|SparseApply|Scatter|Gather|StridedSliceAssign|"
    r"CountUpTo|Accumulator|ConditionalAccumulator)|Random|Rng|Seed|Candidate|Multinomial|Truncated|Poisson|Gamma|"
    r"Binomial|Stateful(Uniform|Standard|Truncated|Random|PartitionedCall)|SampleDistortedBoundingBox|HashTable|"
    r"LookupTable|^InitializeTableV2$|Queue|Stack|TensorArray|Iterator|Mutex|Accumulator|Barrier|Stage|"
    r"SparseToTensorsMap|SparseFromTensorsMap|MemoryCache|^Assert$|CheckNumerics|^(If|While|Case)$|^DeepCopy$|"
    r"^Empty$|GuaranteeConst|DisableCopyOnRead|DestroyResourceOp|DeviceIndex|BoostedTrees|^Timestamp$|ThreadPool|"
    r"StatsAggregator|Session|^Cudnn|NonDeterministicInts|DummyIterationCounter|GlobalIterId|^Xla|Minibatch|"
    r"CooTensor|Fdo|SyncDevice|^Map(Clear|IncompleteSize|Peek|Size|Unstage|UnstageNoKey)$|^OrderedMap|^Unstage")
#: the most a saved_model.pb may hold (protobuf's own limit is 2 GiB)
MAX_GRAPH_BYTES = 1 << 30

_DTYPES = {"float32": "float32", "float64": "float64", "float16": "float16", "bfloat16": "bfloat16",
           "int64": "int64", "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool"}


def danger(op: str) -> str | None:
    """Why op type `op` may reach outside the process, or None: by family name, else (in the TensorFlow child) a
    stateful op that is not of a reviewed family, or an op this TensorFlow does not know."""
    for why, pat in DANGEROUS.items():
        if pat.search(op):
            return why
    if os.environ.get("DEEPNODES_TF_CHILD") == "1":
        tensorflow()
        from tensorflow.python.framework import op_def_registry

        d = op_def_registry.get(op)
        if d is None:
            return "is not an op this TensorFlow knows"
        if d is not None and d.is_stateful and not SAFE_STATEFUL.search(op):
            return "keeps state DeepNodes has not reviewed"
    return None


def review(args: dict, arrays: dict) -> dict:
    """A job: the registered ops this TensorFlow has, those the screen refuses and why, and the stateful ones."""
    tensorflow()
    from tensorflow.python.framework import op_def_registry

    import tensorflow as tf

    names = sorted(n for n in dir(tf.raw_ops) if not n.startswith("_"))
    defs = {n: op_def_registry.get(n) for n in names}
    return {"ops": names, "refused": {n: danger(n) for n in names if danger(n)},
            "stateful": sorted(n for n, d in defs.items() if d is not None and d.is_stateful)}


def _meta_graph(path: Path):
    from tensorflow.core.protobuf import saved_model_pb2

    pb = path / "saved_model.pb"
    if not pb.is_file():
        raise ValueError(f"the folder {path.name} is not a TensorFlow SavedModel (it has no saved_model.pb)")
    if pb.stat().st_size > MAX_GRAPH_BYTES:
        raise ValueError(f"the SavedModel {path.name} has a saved_model.pb of {pb.stat().st_size} bytes, more than "
                         f"DeepNodes reads ({MAX_GRAPH_BYTES})")
    sm = saved_model_pb2.SavedModel()
    try:
        sm.ParseFromString(pb.read_bytes())
    except Exception:  # noqa: BLE001 - protobuf's DecodeError
        raise ValueError(f"the SavedModel {path.name} has a damaged saved_model.pb (it is not a SavedModel "
                         "protobuf)") from None
    serve = [m for m in sm.meta_graphs if "serve" in m.meta_info_def.tags]
    if not serve:
        raise ValueError(f"the SavedModel {path.name} has no meta graph tagged 'serve'")
    return serve[0]


def reachable_ops(mg) -> dict[str, str]:
    """{op type: where it was found} for every op the loader or a signature of meta graph `mg` can run."""
    lib = {f.signature.name: f for f in mg.graph_def.library.function}
    nodes = {n.name: n for n in mg.graph_def.node}
    ops: dict[str, str] = {}
    todo_fn = list(mg.object_graph_def.concrete_functions.keys())
    seen_fn: set[str] = set()

    def calls(node) -> list[str]:
        out = [node.op] if node.op in lib else []
        for a in node.attr.values():
            if a.HasField("func"):
                out.append(a.func.name)
            out.extend(f.name for f in a.list.func)
        return out

    # the graph's own nodes: backwards from what the signatures and init ops fetch
    want = [t.name for s in mg.signature_def.values() for t in list(s.outputs.values())]
    want += [v for k in ("saved_model_main_op", "legacy_init_op") for v in mg.collection_def[k].node_list.value] \
        if mg.collection_def else []
    seen_nodes: set[str] = set()
    while want:
        name = want.pop().lstrip("^").split(":")[0]
        n = nodes.get(name)
        if n is None or name in seen_nodes:
            continue
        seen_nodes.add(name)
        if n.op not in lib:  # a call of a library function by name is followed below, not an op
            ops.setdefault(n.op, f"node '{n.name}'")
        todo_fn += calls(n)
        want += list(n.input)
    while todo_fn:
        fn = todo_fn.pop()
        if fn in seen_fn or fn not in lib:
            continue
        seen_fn.add(fn)
        for n in lib[fn].node_def:
            if n.op not in lib:
                ops.setdefault(n.op, f"function '{fn}'")
            todo_fn += calls(n)
    return ops


def screen(path: Path, trust: bool) -> None:
    mg = _meta_graph(path)
    if trust:
        return
    for a in mg.asset_file_def:  # the loader joins an asset's name to assets/: an absolute name escapes it
        if Path(a.filename).is_absolute() or ".." in Path(a.filename).parts:
            raise ValueError(f"the SavedModel {path.name} names an asset outside its folder ({a.filename[:200]}); "
                             "read it only if you trust its source (option 'trust')")
    for op, where in sorted(reachable_ops(mg).items()):
        why = danger(op)
        if why:
            raise ValueError(f"the SavedModel {path.name} contains the TensorFlow op {op} (in {where}), which "
                             f"{why}; read it only if you trust its source (option 'trust')")


def _load(path: Path, signature: str):
    tf = tensorflow()
    try:
        loaded = tf.saved_model.load(str(path), tags=["serve"])
    except Exception as e:  # noqa: BLE001
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ValueError(f"the SavedModel {path.name} cannot be loaded by TensorFlow ({first})") from None
    sigs = dict(loaded.signatures)
    if signature not in sigs:
        have = ", ".join(sorted(sigs)) or "none"
        raise ValueError(f"option 'signature': the SavedModel {path.name} has no signature '{signature}' "
                         f"(it has: {have})")
    return loaded, sigs[signature]


def _tensor(name: str, spec, path: Path, role: str) -> dict:
    dtype = spec.dtype.name
    if spec.shape.rank is None:
        raise ValueError(f"the SavedModel {path.name}: {role} '{name}' has an unknown number of dimensions; "
                         "DeepNodes needs at least a batch axis")
    if spec.shape.rank == 0:
        raise ValueError(f"the SavedModel {path.name}: {role} '{name}' is a scalar; DeepNodes networks take and "
                         "give batches (a first axis)")
    if dtype not in _DTYPES:
        raise ValueError(f"the SavedModel {path.name}: {role} '{name}' holds {dtype} values; DeepNodes networks "
                         "take and give numbers")
    dims = [None if d is None else int(d) for d in spec.shape.as_list()]
    return {"name": name, "shape": dims[1:], "batch": dims[0], "dtype": _DTYPES[dtype]}


def sample(inputs: list[dict], batch: int = 3, var: int = 5, seed: int = 1) -> dict[str, np.ndarray]:
    """Seeded sample inputs for a signature (ids 0..9 for integers; unknown sizes `var`)."""
    rng = np.random.default_rng(seed)
    out = {}
    for t in inputs:
        shape = (batch, *[var if d is None else d for d in t["shape"]])
        if t["dtype"].startswith("float") or t["dtype"] == "bfloat16":
            out[t["name"]] = rng.random(shape).astype(np.float32).astype(t["dtype"] if t["dtype"] != "bfloat16"
                                                                        else np.float32)
        elif t["dtype"] == "bool":
            out[t["name"]] = rng.random(shape) > 0.5
        else:
            out[t["name"]] = rng.integers(0, 10, shape).astype(t["dtype"])
    return out


def _run(fn, inputs: list[dict], outputs: list[dict], arrays: dict) -> dict[str, np.ndarray]:
    tf = tensorflow()
    feed = {t["name"]: tf.constant(arrays[t["name"]]) for t in inputs}
    res = fn(**feed)
    return {t["name"]: np.asarray(res[t["name"]].numpy()) for t in outputs}


def describe(path: Path, sig, order: dict | None = None) -> tuple[list[dict], list[dict]]:
    """The signature's inputs and outputs in sorted key order, or in `order` ({"inputs": names, "outputs": names},
    what the DeepNodes writer recorded) where that names the same keys."""
    inputs, outputs = _described(path, sig)
    order = order or {}

    def arrange(ts: list[dict], names) -> list[dict]:
        by = {t["name"]: t for t in ts}
        return [by[n] for n in names] if isinstance(names, list) and sorted(names) == sorted(by) else ts

    return arrange(inputs, order.get("inputs")), arrange(outputs, order.get("outputs"))


def _described(path: Path, sig) -> tuple[list[dict], list[dict]]:
    kw = sig.structured_input_signature[1]
    if sig.structured_input_signature[0]:
        raise ValueError(f"the SavedModel {path.name}: its signature takes positional inputs; DeepNodes reads "
                         "signatures with named inputs (as tf.saved_model.save and Keras write them)")
    inputs = [_tensor(k, kw[k], path, "input") for k in sorted(kw)]
    outs = sig.structured_outputs
    if not isinstance(outs, dict):
        raise ValueError(f"the SavedModel {path.name}: its signature's outputs are not named")
    outputs = [_tensor(k, outs[k], path, "output") for k in sorted(outs)]
    return inputs, outputs


def prepare(args: dict, arrays: dict):
    path, signature = Path(args["path"]), args.get("signature") or "serving_default"
    if _LOADED.get("key") != (str(path), signature):  # the worker's setup (`load`) may have loaded it already
        load(args, arrays)
    _, sig, inputs, outputs = _LOADED["model"]
    xs = sample(inputs)
    try:
        ys = _run(sig, inputs, outputs, xs)
    except Exception as e:  # noqa: BLE001
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        unknown = [t for t in inputs if None in t["shape"]]
        if unknown:
            t = unknown[0]
            shape = tuple(["batch"] + [d if d is not None else "?" for d in t["shape"]])
            raise ValueError(f"the SavedModel {path.name}: input '{t['name']}' has unknown dimensions "
                             f"{shape} and the model does not run on a sample of another size ({first}); its "
                             "signature must give the sizes the model needs") from None
        raise ValueError(f"the SavedModel {path.name} does not run on inputs of its signature's shapes ({first})"
                         ) from None
    result = {"inputs": inputs, "outputs": outputs}
    arrays_out = {f"x:{k}": v for k, v in xs.items()} | {f"y:{k}": v for k, v in ys.items()}
    if not args.get("convert", True):
        return result, arrays_out
    try:
        arrays_out["onnx"] = np.frombuffer(_to_onnx(path, signature, inputs, outputs, int(args.get("opset", 17))),
                                           dtype=np.uint8)
    except Exception as e:  # noqa: BLE001 - tf2onnx raises many types; the reader falls back to TensorFlow
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        result["conversion_error"] = f"{type(e).__name__}: {first}"
    return result, arrays_out


def _to_onnx(path: Path, signature: str, inputs: list[dict], outputs: list[dict], opset: int) -> bytes:
    from tf2onnx import convert, tf_loader

    graph_def, ins, outs, tables, rename = tf_loader.from_saved_model(
        str(path), None, None, ["serve"], [signature], None, False, return_initialized_tables=True,
        return_tensors_to_rename=True)
    tf = tensorflow()
    with tf.device("/cpu:0"):
        model, _ = convert._convert_common(graph_def, name=path.name, continue_on_error=False, opset=opset,
                                           input_names=ins, output_names=outs, tensors_to_rename=rename,
                                           initialized_tables=tables)
    import onnx

    left = sorted({n.op_type for n in model.graph.node if n.domain in ("", "ai.onnx")
                   and not onnx.defs.has(n.op_type)})  # tf2onnx leaves an op it cannot convert as it was
    if left:
        raise ValueError(f"ONNX has no counterpart for the TensorFlow op {', '.join(left)}")
    names = [i.name for i in model.graph.input]
    if sorted(names) != sorted(t["name"] for t in inputs):
        raise ValueError(f"the converted inputs are {names}")
    # the model's inputs and outputs in the spec's order (sorted signature keys), so positions line up
    order = {t["name"]: i for i, t in enumerate(inputs)}
    ins_sorted = sorted(model.graph.input, key=lambda v: order[v.name])
    del model.graph.input[:]
    model.graph.input.extend(ins_sorted)
    order = {t["name"]: i for i, t in enumerate(outputs)}
    if sorted(v.name for v in model.graph.output) != sorted(order):
        raise ValueError(f"the converted outputs are {[v.name for v in model.graph.output]}")
    outs_sorted = sorted(model.graph.output, key=lambda v: order[v.name])
    del model.graph.output[:]
    model.graph.output.extend(outs_sorted)
    return model.SerializeToString()


# ---------------------------------------------------------------- the TensorFlow executor (a long-lived child)

_LOADED: dict = {}


def load(args: dict, arrays: dict) -> dict:
    path, signature = Path(args["path"]), args.get("signature") or "serving_default"
    screen(path, bool(args.get("trust")))
    loaded, sig = _load(path, signature)
    inputs, outputs = describe(path, sig, args.get("order"))
    _LOADED["model"] = (loaded, sig, inputs, outputs)
    _LOADED["key"] = (str(path), signature)
    return {"inputs": inputs, "outputs": outputs}


def predict(args: dict, arrays: dict):
    _, sig, inputs, outputs = _LOADED["model"]
    ys = _run(sig, inputs, outputs, arrays)
    return {}, ys
