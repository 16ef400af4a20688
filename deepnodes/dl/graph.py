"""Layer-graph operations on `NetworkSpec`s, torch-free: what a layer node does at configure time.

- `input_spec(...)`: the one-layer network of an Input layer node.
- `append_layer(upstreams, kind, config, name)`: merges the upstream graphs and appends one layer whose
  output shapes are inferred (ValueError with a sentence on a bad input).
- `collect_outputs(upstreams)`: one multi-output network.
- `as_graph(spec)`: an opaque network (no layer graph: a pretrained CNN, an imported model) seen as
  Input layers + one "module" layer, so layers can be appended to it.
"""
from __future__ import annotations

import re
from dataclasses import replace

from .layers import get_layer
from .spec import LayerEntry, NetworkSpec, TensorSpec

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def snake(kind: str) -> str:
    """Keras' layer naming: Dense -> dense, Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, LSTM -> lstm."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", kind)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def auto_name(kind: str, layers, taken: set[str] | None = None) -> str:
    """'dense_1', 'dense_2', ...: one more than the layers of that kind upstream, skipping names in use."""
    names = {layer.name for layer in layers} | (taken or set())
    n = sum(1 for layer in layers if layer.kind == kind) + 1
    base = snake(kind)
    while f"{base}_{n}" in names:
        n += 1
    return f"{base}_{n}"


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(f"option 'name' must start with a letter or '_' and hold only letters, digits and '_'; "
                         f"it is {name!r}")
    return name


def tensor_spec(spec: NetworkSpec, tensor: str) -> TensorSpec:
    """The spec of a layer tensor 'layer' or 'layer:k'."""
    layer, _, k = tensor.partition(":")
    try:
        entry = spec.layer(layer)
    except KeyError:
        raise ValueError(f"the network has no layer '{layer}'") from None
    i = int(k) if k else 0
    if i >= len(entry.outputs):
        raise ValueError(f"layer '{layer}' has {len(entry.outputs)} outputs; there is no '{tensor}'")
    return entry.outputs[i]


def tensors(spec: NetworkSpec) -> list[str]:
    """All tensor names of a graph, in layer order."""
    return [o.name for layer in spec.layers for o in layer.outputs]


# ------------------------------------------------------------------ opaque networks


def as_graph(spec: NetworkSpec, module_name: str = "module_1", factory: dict | None = None,
             class_path: str | None = None) -> NetworkSpec:
    """A spec with a layer graph: returned as is if it has one, else Input layers + one "module" layer."""
    if spec.layers:
        return spec
    if not spec.inputs or not spec.outputs:
        raise ValueError("the network declares no inputs or outputs, so no layer can be attached to it")
    inputs = tuple(LayerEntry(t.name, "Input", {"shape": [-1 if d is None else d for d in t.shape], "dtype": t.dtype},
                              (), (t,)) for t in spec.inputs)
    outs = tuple(TensorSpec(module_name if i == 0 else f"{module_name}:{i}", t.shape, t.dtype)
                 for i, t in enumerate(spec.outputs))
    cfg = {"input_specs": {"inputs": [t.to_json() for t in spec.inputs]},
           "output_specs": {"outputs": [t.to_json() for t in spec.outputs]},
           "factory": (factory or {}).get("path"), "args": (factory or {}).get("args", {}), "class_path": class_path}
    entry = LayerEntry(module_name, "module", cfg, tuple(t.name for t in spec.inputs), outs)
    return NetworkSpec(spec.inputs, outs, inputs + (entry,), tuple(o.name for o in outs))


# ------------------------------------------------------------------ merging graphs


def _same(a: LayerEntry, b: LayerEntry) -> bool:
    return a.to_json() == b.to_json()


def _content(e: LayerEntry) -> str:
    """A layer's identity without its name: kind, config, inputs, output shapes."""
    import json

    return json.dumps([e.kind, e.config, list(e.inputs), [[list(o.shape), o.dtype] for o in e.outputs], e.trainable],
                      sort_keys=True, default=str)


def _rename_tensor(t: str, ren: dict[str, str]) -> str:
    layer, sep, k = t.partition(":")
    return ren.get(layer, layer) + sep + k


def _rename_entry(e: LayerEntry, ren: dict[str, str], new_name: str | None = None) -> LayerEntry:
    name = new_name or e.name
    outs = tuple(TensorSpec(name if i == 0 else f"{name}:{i}", o.shape, o.dtype) for i, o in enumerate(e.outputs))
    return replace(e, name=name, inputs=tuple(_rename_tensor(t, ren) for t in e.inputs), outputs=outs,
                   config=e.config)


def merge(specs: list[NetworkSpec]) -> tuple[NetworkSpec, list[dict[str, str]]]:
    """The union of several layer graphs. A layer present in several graphs with the same name and content is
    shared (a common ancestor); a different layer with a clashing name is renamed deterministically (the next
    free auto-name). Returns the merged spec (inputs: all Input layers, outputs: none) and, per upstream, its
    renames {old layer name: new layer name}."""
    all_names = {layer.name for s in specs for layer in s.layers}
    # the same layer may have been renamed already on another path (a merge upstream): find it by content
    by_content: dict[str, list[str]] = {}
    for s in specs:
        for layer in s.layers:
            by_content.setdefault(_content(layer), []).append(layer.name)
    layers: list[LayerEntry] = []
    by_name: dict[str, LayerEntry] = {}
    inputs: list[TensorSpec] = []
    renames: list[dict[str, str]] = []
    for spec in specs:
        ren: dict[str, str] = {}
        for e in spec.layers:
            e2 = _rename_entry(e, ren)
            if e2.name in by_name:
                if _same(by_name[e2.name], e2):
                    continue
                c = _content(e2)
                known = [n for n, x in by_name.items() if _content(x) == c]  # already merged under another name
                known += [n for n in by_content.get(c, []) if n != e2.name and n not in by_name]
                new = known[0] if known else auto_name(e.kind, layers, all_names | set(by_name))
                ren[e.name] = new
                if new in by_name:  # that layer is already merged: share it
                    continue
                e2 = _rename_entry(e, ren, new)
            layers.append(e2)
            by_name[e2.name] = e2
        renames.append(ren)
        for t in spec.inputs:
            name = ren.get(t.name, t.name)
            if all(i.name != name for i in inputs):
                inputs.append(TensorSpec(name, t.shape, t.dtype))
    return NetworkSpec(tuple(inputs), (), tuple(layers), ()), renames


# ------------------------------------------------------------------ what layer nodes compute


def input_spec(shape, dtype: str = "float32", name: str | None = None) -> NetworkSpec:
    name = check_name(name) if name else "input_1"
    cfg, outs = get_layer("Input").infer(name, [], {"shape": list(shape), "dtype": dtype})
    t = outs[0]
    return NetworkSpec((t,), (t,), (LayerEntry(name, "Input", cfg, (), outs),), (name,))


def append_layer(upstreams: list[NetworkSpec], kind: str, config: dict | None = None, name: str | None = None,
                 input_tensors: list[str | None] | None = None, state_inputs_from: int | None = None,
                 trainable: bool = True) -> tuple[NetworkSpec, list[dict[str, str]]]:
    """Merge the upstream graphs and append one layer of `kind` reading, from each upstream, its first output
    (or `input_tensors[i]`, a tensor name of that upstream). With `state_inputs_from=k`, upstreams k, k+1, ...
    are initial states: when such an upstream has several outputs (an LSTM with return_state), input k takes
    its output 1 (h) and input k+1 its output 2 (c).

    Returns the new spec (outputs: the new layer's outputs) and the renames applied to each upstream."""
    layer_cls = get_layer(kind)
    graphs = [as_graph(s) for s in upstreams]
    merged, renames = merge(graphs)
    ins: list[str] = []
    for i, (g, ren) in enumerate(zip(graphs, renames)):
        want = input_tensors[i] if input_tensors and i < len(input_tensors) else None
        if want:
            layer = want.partition(":")[0]
            if all(layer_ != layer for layer_ in (e.name for e in g.layers)):
                raise ValueError(f"input {i + 1} has no layer '{layer}'; its layers are "
                                 + ", ".join(f"'{e.name}'" for e in g.layers))
            t = want
        elif state_inputs_from is not None and i >= state_inputs_from and len(g.output_layers) > 1:
            k = 1 + (i - state_inputs_from)
            t = g.output_layers[min(k, len(g.output_layers) - 1)]
        else:
            if not g.output_layers:
                raise ValueError(f"input {i + 1} is a network without outputs")
            t = g.output_layers[0]
        ins.append(_rename_tensor(t, ren))
    in_specs = [tensor_spec(merged, t) for t in ins]
    if name:
        check_name(name)
        if any(e.name == name for e in merged.layers):
            raise ValueError(f"option 'name': the network already has a layer named '{name}'")
    else:
        name = auto_name(kind, merged.layers)
    cfg, outs = layer_cls.infer(name, in_specs, config)
    entry = LayerEntry(name, kind, cfg, tuple(ins), outs, trainable)
    spec = NetworkSpec(merged.inputs, outs, merged.layers + (entry,), tuple(o.name for o in outs))
    return spec, renames


def collect_outputs(upstreams: list[NetworkSpec], output_tensors: list[str | None] | None = None
                    ) -> tuple[NetworkSpec, list[dict[str, str]]]:
    """One network whose outputs are the first output (or the named tensor) of each upstream network."""
    graphs = [as_graph(s) for s in upstreams]
    merged, renames = merge(graphs)
    outs: list[TensorSpec] = []
    for i, (g, ren) in enumerate(zip(graphs, renames)):
        want = output_tensors[i] if output_tensors and i < len(output_tensors) and output_tensors[i] else None
        t = _rename_tensor(want or g.output_layers[0], ren)
        ts = tensor_spec(merged, t)
        if any(o.name == ts.name for o in outs):
            continue
        outs.append(ts)
    return NetworkSpec(merged.inputs, tuple(outs), merged.layers, tuple(o.name for o in outs)), renames


def select_outputs(spec: NetworkSpec, tensor_names: list[str]) -> NetworkSpec:
    """The same graph with other outputs (intermediate layers for feature extraction)."""
    outs = tuple(tensor_spec(spec, t) for t in tensor_names)
    return spec.with_(outputs=outs, output_layers=tuple(tensor_names))
