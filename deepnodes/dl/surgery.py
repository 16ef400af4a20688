"""Network surgery: freeze or unfreeze layers, and choose other outputs (a feature extractor).

Both work on the layer graph (an opaque network is first seen as Input layers + one "module" layer, see
`graph.as_graph`), so the result is known at configure time. Executing gives a new `Network` whose module
is a copy of the input's (the input network stays as it was) and whose layers are carried by name, so
layer nodes appended afterwards reuse them.

    spec = freeze_spec(net.spec, mode="all_but_last", last_n=2)
    spec = outputs_spec(net.spec, ["avg_pool"])                 # features instead of class probabilities
    new = apply_spec(net, spec)
"""
from __future__ import annotations

import copy
import fnmatch
import re
from typing import Sequence

from .graph import as_graph, select_outputs, tensor_spec
from .network import Network, copy_module
from .spec import NetworkSpec

#: layer kinds without weights (not counted by "all but the last N", nothing to freeze)
WEIGHTLESS = {"Input", "Dropout", "Activation", "Flatten", "Reshape", "Permute", "RepeatVector", "Masking",
              "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
              "GaussianNoise", "GaussianDropout", "AlphaDropout", "ELU", "LeakyReLU", "ReLU", "Softmax"}
WEIGHTLESS_PREFIXES = ("Global", "MaxPooling", "AveragePooling", "Cropping", "UpSampling", "ZeroPadding",
                       "SpatialDropout")


def has_weights(kind: str) -> bool:
    return kind not in WEIGHTLESS and not kind.startswith(WEIGHTLESS_PREFIXES)


def weight_layers(spec: NetworkSpec) -> list[str]:
    return [layer.name for layer in as_graph(spec).layers if has_weights(layer.kind)]


def select_layers(spec: NetworkSpec, mode: str, names: Sequence[str] = (), pattern: str = "",
                  syntax: str = "glob", last_n: int = 1) -> list[str]:
    """The layers a Freeze Layers node acts on (layers with weights only)."""
    g = as_graph(spec)
    weighted = weight_layers(spec)
    all_names = [layer.name for layer in g.layers]
    if mode == "all":
        return weighted
    if mode == "names":
        if not names:
            raise ValueError("option 'layers' names no layer; name at least one (or choose another mode)")
        for n in names:
            if n not in all_names:
                raise ValueError(f"layer '{n}' (option 'layers') is not in the network; its layers are "
                                 f"{', '.join(repr(x) for x in all_names)}")
        return [n for n in all_names if n in set(names)]
    if mode == "pattern":
        if not pattern:
            raise ValueError("option 'pattern' is empty; give a pattern such as 'block_*'")
        if syntax == "regex":
            try:
                rx = re.compile(pattern)
            except re.error as e:
                raise ValueError(f"option 'pattern' is not a valid regular expression ({e})") from None
            hit = [n for n in weighted if rx.fullmatch(n)]
        else:
            hit = [n for n in weighted if fnmatch.fnmatchcase(n, pattern)]
        if not hit:
            raise ValueError(f"option 'pattern' '{pattern}' matches no layer with weights; they are "
                             f"{', '.join(repr(x) for x in weighted)}")
        return hit
    if mode == "all_but_last":
        if last_n < 0:
            raise ValueError("option 'last_n' must be 0 or more")
        return weighted[:max(len(weighted) - last_n, 0)]
    raise ValueError(f"option 'mode' '{mode}' is not one of 'all', 'names', 'pattern', 'all_but_last'")


def freeze_spec(spec: NetworkSpec, mode: str = "all_but_last", names: Sequence[str] = (), pattern: str = "",
                syntax: str = "glob", last_n: int = 1, freeze: bool = True) -> NetworkSpec:
    """`spec` (as a layer graph) with the selected layers frozen (or, with `freeze=False`, unfrozen)."""
    g = as_graph(spec)
    chosen = set(select_layers(g, mode, names, pattern, syntax, last_n))
    layers = tuple(layer.__class__(layer.name, layer.kind, layer.config, layer.inputs, layer.outputs,
                                   (not freeze) if layer.name in chosen else layer.trainable) for layer in g.layers)
    return g.with_(layers=layers)


def frozen_names(spec: NetworkSpec) -> list[str]:
    return [layer.name for layer in spec.layers if not layer.trainable and has_weights(layer.kind)]


def outputs_spec(spec: NetworkSpec, tensors: Sequence[str], prune: bool = True) -> NetworkSpec:
    """`spec` whose outputs are the given layer tensors ("avg_pool", "lstm_1:1"); with `prune`, layers the new
    outputs do not need are dropped (so a feature extractor does not compute the old classifier)."""
    g = as_graph(spec)
    if not tensors:
        raise ValueError("option 'layers' names no layer; choose the layer(s) whose output the network returns")
    names = [layer.name for layer in g.layers]
    for t in tensors:
        if t.partition(":")[0] not in names:
            raise ValueError(f"layer '{t.partition(':')[0]}' (option 'layers') is not in the network; its layers "
                             f"are {', '.join(repr(x) for x in names)}")
        tensor_spec(g, t)  # raises for a missing k-th output
    out = select_outputs(g, list(tensors))
    if not prune:
        return out
    by_name = {layer.name: layer for layer in out.layers}
    need: set[str] = set()
    stack = [t.partition(":")[0] for t in tensors] + [layer.name for layer in out.layers if layer.kind == "Input"]
    while stack:
        n = stack.pop()
        if n in need:
            continue
        need.add(n)
        stack += [t.partition(":")[0] for t in by_name[n].inputs]
    return out.with_(layers=tuple(layer for layer in out.layers if layer.name in need))


def apply_spec(network: Network, spec: NetworkSpec, metadata: dict | None = None) -> Network:
    """A new network with `spec` (from `freeze_spec` / `outputs_spec` on `network.spec`) and a copy of the
    network's layers; each layer's parameters get requires_grad from its `trainable` flag."""
    from .build import LayerBuilder, build_module

    module = copy_module(network.module)
    names = getattr(module, "layer_names", None)
    if names is not None:
        carried = {n: module.get_submodule(n) for n in names}
    elif not network.spec.layers:
        carried = {"module_1": module}
    else:
        raise ValueError("the network's module does not expose its layers by name, so it cannot be changed "
                         "layer by layer")
    reuse = {layer.name: carried[layer.name] for layer in spec.layers if layer.name in carried}
    for layer in spec.layers:
        if layer.name in reuse:
            for p in reuse[layer.name].parameters():  # (ScriptModules refuse requires_grad_ itself)
                p.requires_grad_(layer.trainable)
    new_module = build_module(spec, reuse=reuse)
    new_module.train(module.training)
    meta = copy.deepcopy(network.metadata)
    meta.update(metadata or {})
    return Network(spec, new_module, meta, LayerBuilder(reuse))
