"""The "module" layer kind: an opaque torch module carried by a network (a pretrained CNN, an imported Keras
model, a module written in a Python script node) with known input and output specs.

It is never initialised from scratch: `build_module` takes it from its `reuse` mapping (the upstream network's
module), or, when the network was loaded from a file, from `factory`: the name of a registered module factory
(`deepnodes.dl.factories`), called with `args` validated against its signature, before the saved weights are
loaded. Nothing named in the config is ever imported.
"""
from __future__ import annotations

from ..spec import TensorSpec, fmt_shape
from .base import Layer, Opt, register


@register
class Module(Layer):
    """An opaque torch module with known inputs and outputs (a pretrained or imported network).

    Layout: whatever the module declares in `input_specs` / `output_specs`.
    """

    kind = "module"
    family = "Core"
    input_names = ("input", "input_2", "input_3", "input_4", "input_5")
    options = (Opt("input_specs", "dict", {}, "the module's inputs: {'inputs': [TensorSpec JSON, ...]}"),
               Opt("output_specs", "dict", {}, "the module's outputs: {'outputs': [TensorSpec JSON, ...]}"),
               Opt("factory", "str", None, "the registered module factory that rebuilds the architecture",
                   nullable=True),
               Opt("args", "dict", {}, "keyword arguments of the factory"),
               Opt("class_path", "str", None, "the module's class, for information and trusted loading",
                   nullable=True))

    @staticmethod
    def compute_output_shape(input_specs, config):
        want = [TensorSpec.from_json(t) for t in config["input_specs"].get("inputs", [])]
        if want and len(want) != len(input_specs):
            raise ValueError(f"the module takes {len(want)} inputs; it got {len(input_specs)}")
        for w, s in zip(want, input_specs):
            if len(w.shape) != len(s.shape) or any(a is not None and b is not None and a != b
                                                   for a, b in zip(w.shape, s.shape)):
                raise ValueError(f"the module needs an input of shape {fmt_shape(w.shape)}; it got "
                                 f"{fmt_shape(s.shape)} from {s.name}")
        outs = [TensorSpec.from_json(t) for t in config["output_specs"].get("outputs", [])]
        if not outs:
            raise ValueError("a module layer must declare its outputs")
        return outs

    @staticmethod
    def build(config, input_specs):
        factory = config.get("factory")
        if not factory:
            raise ValueError("this module layer has no factory to rebuild it from; it can only be reused from the "
                             "network that carries it")
        from ..factories import call_factory

        return call_factory({"path": factory, "args": config.get("args", {})}, where="a module layer")
