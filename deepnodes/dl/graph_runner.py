"""The incremental graph runner behind decoding (`decode.py`): runs a network's layer graph along one input.

The layers that do not depend on the stepped input (the encoder) run once (`start`); the rest runs one slice at a
time (`run`, `step`) with every recurrent layer's state and every attention layer's key/value cache
(`kv_cache.py`) carried forward, so a prefix or the tokens generated so far are never re-run. `reorder` picks
batch rows of a state (beam search).

    runner = GraphRunner(network, step_input="decoder_in")
    state = runner.start({"encoder_in": src})                    # the encoder, once
    logp, state = runner.step(torch.full((n,), START), state)    # one decoder step
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from . import kv_cache, masks as masks_

#: layer kinds that compute each time step from that step alone (`Softmax`, `LayerNormalization` and
#: `Concatenate` when their axis is the features'); per-batch trimming (`trim.py`) relies on the same list
POSITIONWISE_KINDS = {
    "Dense", "Dropout", "Activation", "ReLU", "ELU", "LeakyReLU", "PReLU", "Softmax", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "LayerNormalization", "TimeDistributed", "Concatenate",
}
#: layers that combine their inputs step by step (their inputs' time axes are one)
MERGE_KINDS = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}

#: layer kinds that act on each time step separately (or carry state forward): safe to run step by step
STEPWISE_KINDS = {
    "Input", "Embedding", "Masking", *POSITIONWISE_KINDS, *MERGE_KINDS,
    "Attention", "AdditiveAttention", "LSTM", "GRU", "SimpleRNN", *kv_cache.KINDS,
}
RECURRENT_KINDS = {"LSTM", "GRU", "SimpleRNN"}


class DecodeError(ValueError):
    """The network cannot be decoded as asked; one sentence saying why."""


# ---------------------------------------------------------------------- the incremental graph runner
@dataclass
class RunState:
    static: dict[str, torch.Tensor]   # tensors that do not depend on the stepped input (batch first)
    rnn: dict[str, Any]               # recurrent layer name -> torch state: h (1, N, U) or (h, c)


def _strip0(t: str) -> str:
    return t[:-2] if t.endswith(":0") else t


def _layer_of(t: str) -> str:
    return t.partition(":")[0]


class GraphRunner:
    """Runs a network's layer graph incrementally along one input (see the module docstring)."""

    def __init__(self, network, step_input: str | None = None, output: int = 0):
        spec = network.spec
        if not spec.layers:
            raise DecodeError("the network has no layer graph (it was written in code or imported), so its "
                              "recurrent states cannot be carried from step to step; build it from layer nodes")
        names = [t.name for t in spec.inputs]
        if step_input is None:
            step_input = self._find_step_input(network, names, output)
        if step_input not in names:
            raise DecodeError(f"the network has no input '{step_input}'; its inputs are "
                              + ", ".join(repr(n) for n in names))
        self.spec, self.step_input = spec, step_input
        self.limit: int | None = None
        self.module = network.inference_module()  # our own eval-mode view: the input network is not changed
        self.inputs = names
        self.static_inputs = [n for n in names if n != step_input]
        dep: set[str] = {step_input}
        for layer in spec.layers:
            if layer.kind == "Input":
                continue
            if any(_layer_of(t) in dep for t in layer.inputs):
                dep.add(layer.name)
        self.dependent = dep
        outs = spec.output_layers or (spec.layers[-1].name,)
        self.output = _strip0(outs[output])
        if _layer_of(self.output) not in dep:
            raise DecodeError(f"the network's output '{self.output}' does not depend on its input '{step_input}'")
        for layer in spec.layers:
            if layer.name not in dep or layer.kind == "Input":
                continue
            if layer.kind not in STEPWISE_KINDS:
                raise DecodeError(f"layer '{layer.name}' ({layer.kind}) mixes time steps, so the network cannot "
                                  f"be run one step at a time after input '{step_input}'")
            why = kv_cache.check(layer, dep, step_input, _layer_of) if layer.kind in kv_cache.KINDS else None
            if why:
                raise DecodeError(why)
            if layer.kind in RECURRENT_KINDS and layer.config.get("go_backwards"):
                raise DecodeError(f"layer '{layer.name}' reads its sequence backwards, so it cannot generate step "
                                  "by step")
            if layer.kind in RECURRENT_KINDS:
                for t in layer.inputs[1:]:
                    if _layer_of(t) in dep:
                        raise DecodeError(f"the initial state of layer '{layer.name}' depends on the stepped input "
                                          f"'{step_input}'; it must come from the encoder")
            if layer.kind in ("Attention", "AdditiveAttention"):
                for t in layer.inputs[1:]:
                    if _layer_of(t) in dep:
                        raise DecodeError(f"the value of attention layer '{layer.name}' depends on the stepped "
                                          f"input '{step_input}'; it must be the encoder's sequence")
        self.layers = [layer for layer in spec.layers]
        self._mods = {layer.name: self.module.get_submodule(layer.name) for layer in spec.layers}
        self._mask_modes = dict(zip((layer.name for layer in spec.layers), masks_.layer_modes(spec)))
        p = next(iter(self.module.parameters()), None)
        self.device = p.device if p is not None else torch.device("cpu")
        self.static_layers = [layer for layer in spec.layers if layer.name not in dep]
        self.step_layers = [layer for layer in spec.layers if layer.name in dep]
        # the encoder's recurrent states must reach the stepped part (or the decoder ignores the source)
        self.reads_static = any(_layer_of(t) not in dep for layer in self.step_layers if layer.kind != "Input"
                                for t in layer.inputs)
        # a Transformer's context is the window it was trained on (None: a recurrent network, unbounded)
        self.window = (self.input_lengths.get(step_input) or 0) if any(
            layer.kind in kv_cache.KINDS for layer in self.step_layers) else None

    @classmethod
    def _find_step_input(cls, network, names: list[str], output: int) -> str:
        """The one input the network can be stepped along (the decoder's input; a language model's only one)."""
        if len(names) == 1:
            return names[0]
        ok, errors = [], []
        for n in names:
            try:
                r = cls(network, n, output)
            except DecodeError as e:
                errors.append(str(e))
                continue
            ok.append((not r.reads_static, n))
        if not ok:
            raise DecodeError("no input of the network can be decoded step by step: " + errors[-1])
        return sorted(ok)[0][1]

    @property
    def input_lengths(self) -> dict[str, int | None]:
        return {t.name: (t.shape[0] if t.shape else None) for t in self.spec.inputs}

    @torch.no_grad()
    def start(self, static_inputs: dict[str, torch.Tensor] | None = None) -> RunState:
        """Run the layers that do not depend on the stepped input (the encoder) once."""
        vals: dict[str, torch.Tensor] = {}
        static_inputs = static_inputs or {}
        for n in self.static_inputs:
            if n not in static_inputs:
                raise DecodeError(f"the network's input '{n}' needs a value")
            vals[n] = static_inputs[n].to(self.device)
        for layer in self.static_layers:
            self._run_layer(layer, vals, None)
        return RunState(vals, {})

    def _run_layer(self, layer, vals: dict, rnn: dict | None) -> None:
        m = self._mods[layer.name]
        if layer.kind == "Input":
            if layer.name in vals:
                vals[layer.name] = m(vals[layer.name])
            return
        xs = [vals[_strip0(t)] for t in layer.inputs]
        ms = [vals.get(_strip0(t) + "#mask") for t in layer.inputs]  # padding masks travel beside the tensors
        if rnn is not None and layer.kind in RECURRENT_KINDS:
            r = _run_recurrent(m, xs, rnn.get(layer.name))
            r, rnn[layer.name] = r
        elif rnn is not None and layer.kind in kv_cache.KINDS:
            dep_value = any(_layer_of(t) in self.dependent for t in layer.inputs[1:])
            r, rnn[layer.name] = kv_cache.run(layer.kind, m, xs, ms, rnn.get(layer.name), dep_value)
        else:
            r = masks_.call(m, xs, ms)
        mk = masks_.output_mask(self._mask_modes[layer.name], m, xs, ms)
        if mk is not None:
            vals[layer.name + "#mask"] = mk
        if isinstance(r, tuple):
            for i, v in enumerate(r):
                vals[layer.name if i == 0 else f"{layer.name}:{i}"] = v
        else:
            vals[layer.name] = r

    @torch.no_grad()
    def run(self, x: torch.Tensor, state: RunState) -> tuple[torch.Tensor, RunState]:
        """The output for a slice `x` (N, T) of the stepped input, continuing from `state`."""
        vals = dict(state.static)
        vals[self.step_input] = x.to(self.device)
        rnn = dict(state.rnn)
        for layer in self.step_layers:
            self._run_layer(layer, vals, rnn)
        return vals[self.output], RunState(state.static, rnn)

    def log_probs(self, y: torch.Tensor) -> torch.Tensor:
        """(N, V) log-probabilities of the last step of an output (probabilities or logits), on the CPU."""
        if y.dim() == 3:
            y = y[:, -1]
        y = y.float().cpu()
        if bool((y >= 0).all()) and bool(((y.sum(-1) - 1).abs() < 1e-3).all()):
            lp = torch.log(y.clamp_min(1e-12))
        else:
            lp = F.log_softmax(y, dim=-1)
        if self.limit is not None and self.limit < lp.shape[-1]:
            lp[:, self.limit:] = -float("inf")  # units beyond the dictionary are never chosen
        return lp

    def step(self, tokens: torch.Tensor, state: RunState) -> tuple[torch.Tensor, RunState]:
        y, state = self.run(tokens.view(-1, 1), state)
        return self.log_probs(y), state

    @staticmethod
    def reorder(state: RunState, index: torch.Tensor) -> RunState:
        def pick(t, dim):
            return t.index_select(dim, index.to(t.device))

        static = {k: pick(v, 0) if torch.is_tensor(v) else v for k, v in state.static.items()}
        rnn = {k: (tuple(pick(s, 1) for s in v) if isinstance(v, tuple) else pick(v, 1) if torch.is_tensor(v)
                   else kv_cache.reorder(v, index)) for k, v in state.rnn.items()}
        return RunState(static, rnn)


def _run_recurrent(m, xs: list[torch.Tensor], st):
    """A Recurrent layer module on (N, T, F) continuing from `st` (None: its initial-state inputs or zeros);
    returns (the layer's outputs, the new torch state)."""
    x = xs[0]
    if getattr(m, "bidirectional", False):
        raise DecodeError("a bidirectional layer cannot run step by step")
    if st is None and len(xs) > 1:
        h0 = xs[1].unsqueeze(0).contiguous()
        if m.lstm:
            c0 = xs[2].unsqueeze(0).contiguous() if len(xs) > 2 else torch.zeros_like(h0)
            st = (h0, c0)
        else:
            st = h0
    out, st = m.rnn(x, st)
    h = st[0] if m.lstm else st
    y = out if m.return_sequences else h[0]
    if not m.return_state:
        return y, st
    if m.lstm:
        return (y, h[0], st[1][0]), st
    return (y, h[0]), st


# ---------------------------------------------------------------------- the network's vocabulary
def output_size(runner: GraphRunner) -> int | None:
    spec = runner.spec
    for t in spec.outputs:
        if t.name == runner.output or _strip0(t.name) == runner.output:
            return t.shape[-1] if t.shape else None
    return spec.outputs[0].shape[-1] if spec.outputs and spec.outputs[0].shape else None


def check_vocabulary(runner: GraphRunner, size: int, what: str = "dictionary") -> None:
    """The network's output must have a unit per token (extra units are never chosen: `runner.limit`)."""
    n = output_size(runner)
    if n is not None and n < size:
        raise DecodeError(f"the network predicts {n} classes but the {what} has {size} tokens; use the dictionary "
                          "the network was trained with")
    runner.limit = size
