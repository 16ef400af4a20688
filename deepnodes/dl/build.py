"""Spec -> one torch module.

`build_module(spec, seed, reuse)` turns a layer graph into one `nn.Module` whose `forward(*inputs)` returns a
tuple in `spec.outputs` order. Each layer is a submodule named after the layer (`module.get_submodule("dense_1")`,
for freezing by name). Each layer's weights are drawn from a generator seeded by (seed, layer name): the same
seed gives the same weights, and adding a layer does not change the others. Layers named in `reuse` are taken
as they are (a pretrained base, an already trained network being extended) instead of being initialised.

A chain (one input, each layer reading the previous one, one output) gets `ChainModule`, a plain loop over the
layers; any other graph gets `GraphModule`, which runs a precomputed program over a list of slots.
"""
from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

from .layers import get_layer, load_all
from .spec import NetworkSpec, TensorSpec


def layer_seed(seed: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest()[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def _tensor_specs(spec: NetworkSpec) -> dict[str, TensorSpec]:
    out: dict[str, TensorSpec] = {}
    for layer in spec.layers:
        for i, o in enumerate(layer.outputs):
            out[layer.name if i == 0 else f"{layer.name}:{i}"] = o
        if layer.outputs:
            out[f"{layer.name}:0"] = layer.outputs[0]
    return out


def build_layer(entry, input_specs: list[TensorSpec], seed: int | None) -> nn.Module:
    layer_cls = get_layer(entry.kind)
    if seed is None:
        return layer_cls.build(entry.config, input_specs)
    from .rng import seeded

    with seeded(layer_seed(seed, entry.name)):  # torch's init draws from the global generator: under the lock
        return layer_cls.build(entry.config, input_specs)


def build_module(spec: NetworkSpec, seed: int | None = None, reuse: dict[str, nn.Module] | None = None) -> nn.Module:
    """The torch module of a layer graph (see the module docstring)."""
    load_all()
    if not spec.layers:
        raise ValueError("the network has no layer graph to build a module from (an opaque network carries its "
                         "own module)")
    reuse = reuse or {}
    specs = _tensor_specs(spec)
    modules: dict[str, nn.Module] = {}
    for entry in spec.layers:
        if "." in entry.name or ":" in entry.name or not entry.name:
            raise ValueError(f"layer name '{entry.name}' may not contain '.' or ':'")
        if entry.name in reuse:
            m = reuse[entry.name]
        else:
            m = build_layer(entry, [specs[t] for t in entry.inputs], seed)
        if not entry.trainable:
            m.requires_grad_(False)
        modules[entry.name] = m
    if _is_chain(spec):
        return ChainModule(spec, modules)
    return GraphModule(spec, modules)


def _is_chain(spec: NetworkSpec) -> bool:
    from .masks import produces_masks

    layers = spec.layers
    if produces_masks(spec):  # masks travel beside the tensors: the graph program carries them
        return False
    if len(spec.inputs) != 1 or len(spec.outputs) != 1 or layers[0].kind != "Input":
        return False
    if spec.inputs[0].name != layers[0].name:
        return False
    prev = layers[0].name
    for layer in layers:
        if len(layer.outputs) != 1 or layer.kind == "module":  # an opaque module may return a tuple
            return False
        if layer is not layers[0]:
            if tuple(layer.inputs) not in ((prev,), (f"{prev}:0",)):
                return False
        prev = layer.name
    return tuple(spec.output_layers) in ((prev,), (f"{prev}:0",)) or not spec.output_layers


class _LayersModule(nn.Module):
    """Holds one submodule per layer, named after the layer, and the spec it was built from."""

    def __init__(self, spec: NetworkSpec, modules: dict[str, nn.Module]):
        super().__init__()
        for name, m in modules.items():
            self.add_module(name, m)
        self.layer_names = list(modules)
        self.dn_spec = spec


class ChainModule(_LayersModule):
    """A chain of layers: forward(x) runs them in order and returns a 1-tuple."""

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return (x,)


class GraphModule(_LayersModule):
    """Any layer graph: a program of (layer, input slots, output slots) steps over a list of tensors."""

    def __init__(self, spec: NetworkSpec, modules: dict[str, nn.Module]):
        super().__init__(spec, modules)
        slot: dict[str, int] = {}
        inputs = list(spec.inputs) or [layer.outputs[0] for layer in spec.layers if layer.kind == "Input"]
        for i, t in enumerate(inputs):
            slot[t.name] = i
        self.n_inputs = len(inputs)
        n = len(inputs)
        program: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
        for layer in spec.layers:
            if layer.kind == "Input" and layer.name in slot:
                ins = (slot[layer.name],)
            else:
                try:
                    ins = tuple(slot[t if ":" not in t or not t.endswith(":0") else t[:-2]] for t in layer.inputs)
                except KeyError as e:
                    raise ValueError(f"layer '{layer.name}' reads {e.args[0]}, which no earlier layer produces") from None
            outs = tuple(range(n, n + len(layer.outputs)))
            for i, o in enumerate(layer.outputs):
                slot[layer.name if i == 0 else f"{layer.name}:{i}"] = n + i
            n += len(layer.outputs)
            program.append((layer.name, ins, outs))
        self.n_slots = n
        outs = spec.output_layers or (spec.layers[-1].name,)
        try:
            self.out_slots = tuple(slot[t[:-2] if t.endswith(":0") else t] for t in outs)
        except KeyError as e:
            raise ValueError(f"the network's output {e.args[0]} is not a tensor of its layers") from None
        self.program = program
        from .masks import layer_modes

        self.mask_modes = layer_modes(spec)
        self.masked = "produce" in self.mask_modes
        self._steps: list[tuple[nn.Module, tuple[int, ...], tuple[int, ...]]] | None = None

    def _compile(self):
        self._steps = [(self._modules[name], ins, outs) for name, ins, outs in self.program]
        return self._steps

    def __deepcopy__(self, memo):  # the compiled steps hold module references: rebuild them on the copy
        import copy

        cls = self.__class__
        new = cls.__new__(cls)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            setattr(new, k, None if k == "_steps" else copy.deepcopy(v, memo))
        return new

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_steps"] = None
        return d

    def _apply(self, fn, recurse=True):
        self._steps = None
        return super()._apply(fn, recurse)

    def forward(self, *xs):
        return self.forward_masked(*xs)[0] if self.masked else self._run(xs)

    def forward_masked(self, *xs):
        """(outputs, their padding masks (N, T) or None each): see `deepnodes/dl/masks.py`."""
        if not self.masked:
            return self._run(xs), (None,) * len(self.out_slots)
        from .masks import call, output_mask

        if len(xs) != self.n_inputs:
            return self._run(xs)  # the one sentence about the inputs
        steps = self._steps if self._steps is not None else self._compile()
        vals: list[Any] = list(xs) + [None] * (self.n_slots - len(xs))
        masks: list[Any] = [None] * self.n_slots
        for (m, ins, outs), mode in zip(steps, self.mask_modes):
            args, in_masks = [vals[i] for i in ins], [masks[i] for i in ins]
            r = call(m, args, in_masks)
            if len(outs) == 1:
                vals[outs[0]] = r[0] if isinstance(r, tuple) else r
            else:
                for o, v in zip(outs, r):
                    vals[o] = v
            masks[outs[0]] = output_mask(mode, m, args, in_masks)
        return tuple(vals[i] for i in self.out_slots), tuple(masks[i] for i in self.out_slots)

    def _run(self, xs):
        if len(xs) != self.n_inputs:
            raise ValueError(f"the network takes {self.n_inputs} inputs ("
                             + ", ".join(t.name for t in self.dn_spec.inputs) + f"); it got {len(xs)}")
        steps = self._steps if self._steps is not None else self._compile()
        vals: list[Any] = list(xs) + [None] * (self.n_slots - len(xs))
        for m, ins, outs in steps:
            r = m(vals[ins[0]]) if len(ins) == 1 else m(*[vals[i] for i in ins])
            if len(outs) == 1:
                vals[outs[0]] = r[0] if isinstance(r, tuple) else r
            else:
                for o, v in zip(outs, r):
                    vals[o] = v
        return tuple(vals[i] for i in self.out_slots)


# ------------------------------------------------------------------ networks built from layer nodes


class LayerBuilder:
    """The builder a layer node gives its output `Network`: builds the graph lazily, reusing `reuse` modules
    (those carried by upstream networks: pretrained bases, trained networks being extended)."""

    def __init__(self, reuse: dict[str, nn.Module] | None = None, seed: int | None = None):
        self.reuse = dict(reuse or {})
        self.seed = seed

    def __call__(self, spec: NetworkSpec, seed: int | None = None) -> nn.Module:
        # the reused modules are copied: training this network must not change the upstream one
        from .network import copy_module

        reuse = {k: copy_module(v) for k, v in self.reuse.items()}
        return build_module(spec, seed=self.seed if seed is None else seed, reuse=reuse)


def carried_modules(network) -> dict[str, nn.Module]:
    """The modules a network hands on to layers appended to it, by layer name of `graph.as_graph(network.spec)`.

    - a built network (trained, loaded, pretrained) with a layer graph: every layer's module;
    - a built opaque network (no layer graph): its whole module, as layer "module_1";
    - a network from layer nodes not built yet: only what it reuses itself (its own layers start fresh).
    """
    b = network._builder
    if not network.built and isinstance(b, LayerBuilder):
        return dict(b.reuse)
    if not network.spec.layers:
        return {"module_1": network.module}
    m = network.module
    names = getattr(m, "layer_names", None)
    if names is None:
        raise ValueError("the network's module does not expose its layers by name")
    return {n: m.get_submodule(n) for n in names}


def build_network(network, seed: int | None = None) -> nn.Module:
    """The module to train: built fresh from the spec with `seed` (reusing carried modules) when the network
    comes from layer nodes and is not built yet, else the network's own module (pretrained, loaded, trained). The trainer calls this instead of `network.module` so that `seed` decides the initial weights."""
    b = network._builder
    if not network.built and isinstance(b, LayerBuilder):
        return b(network.spec, seed=seed)
    return network.module


def extend_network(upstreams: list, spec: NetworkSpec, renames: list[dict[str, str]], metadata: dict | None = None):
    """The `Network` a layer node outputs: `spec` (from `graph.append_layer`), built lazily, reusing the
    upstream networks' carried modules (renamed like their layers)."""
    from .network import Network

    reuse: dict[str, nn.Module] = {}
    meta: dict = {}
    for net, ren in zip(upstreams, renames):
        if net is None:
            continue
        for name, m in carried_modules(net).items():
            reuse[ren.get(name, name)] = m
        for k, v in net.metadata.items():
            if k == "dictionaries":  # every branch's dictionaries (an encoder's and a decoder's)
                meta.setdefault(k, {}).update(v)
            elif k not in ("history", "trained", "seed", "factory", "exports") and k not in meta:
                meta[k] = v
    for k, v in (metadata or {}).items():
        if k == "dictionaries":
            meta.setdefault(k, {}).update(v)
        else:
            meta[k] = v
    return Network(spec, metadata=meta, builder=LayerBuilder(reuse))


def regularization_loss(module: nn.Module):
    """Sum of the layers' l1/l2 penalties (None when no layer declares any); add it to the training loss."""
    from .layers._modules import regularization_loss as f

    return f(module)


def count_params(module: nn.Module) -> tuple[int, int]:
    """(trainable, frozen) parameter counts."""
    t = f = 0
    for p in module.parameters():
        if p.requires_grad:
            t += p.numel()
        else:
            f += p.numel()
    return t, f
