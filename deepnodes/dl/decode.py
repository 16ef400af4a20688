"""Decoding: sampling text from a language model and greedy / beam-search decoding of encoder-decoders.

The algorithms work on a *step function* `step(tokens (M,), state) -> (log_probs (M, V), state)` plus a
`reorder(state, index)` that picks batch rows (beam search). `GraphRunner` provides both for any network
built from layer nodes: the layers that do not depend on the stepped input (the encoder) run once; the
rest runs one slice at a time with every recurrent layer's state carried forward, so a prefix or the
tokens generated so far are never re-run.

    runner = GraphRunner(network, step_input="decoder_in")
    state = runner.start({"encoder_in": src})                    # the encoder, once
    logp, state = runner.step(torch.full((n,), START), state)    # one decoder step
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import kv_cache, masks as masks_
from .text import END, PAD, START

#: layer kinds that act on each time step separately (or carry state forward): safe to run step by step
STEPWISE_KINDS = {
    "Input", "Embedding", "Dense", "Dropout", "Activation", "ReLU", "ELU", "LeakyReLU", "PReLU", "Softmax",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "LayerNormalization", "TimeDistributed", "Masking",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
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


# ---------------------------------------------------------------------- language-model sampling
def sample(runner: GraphRunner, prefixes: Sequence[np.ndarray], n: int, temperature: float = 1.0,
           top_k: int | None = None, seed: int = 0, banned: Sequence[int] = (PAD, START, END),
           batch_size: int = 256, top_p: float | None = None) -> list[np.ndarray]:
    """`n` sampled ids after each prefix. Each prefix runs once through the network; then each sampled id
    is fed alone while the recurrent states are carried (no re-running). Rows with equal prefix lengths are
    batched; each row draws from its own generator, seeded by `seed` and its prefix, so a row's text does not
    depend on the other rows (temperature 0 = greedy)."""
    if any(len(p) == 0 for p in prefixes):
        raise DecodeError("a seed text is empty; give at least one character to start from")
    out: list[np.ndarray | None] = [None] * len(prefixes)
    by_len: dict[int, list[int]] = {}
    for i, p in enumerate(prefixes):
        by_len.setdefault(len(p), []).append(i)
    for length in sorted(by_len):
        rows = by_len[length]
        for b in range(0, len(rows), batch_size):
            idx = rows[b:b + batch_size]
            x = torch.as_tensor(np.stack([prefixes[i] for i in idx]).astype(np.int64))
            gen = [row_generator(seed, prefixes[i]) for i in idx]
            if runner.window and x.shape[1] > runner.window:  # a Transformer sees its window's worth of seed
                x = x[:, -runner.window:]
            state = runner.start({})
            y, state = runner.run(x, state)
            logp = runner.log_probs(y)
            got, seen = [], x
            for _ in range(n):
                tok = pick(logp, temperature, top_k, gen, banned, top_p)
                got.append(tok)
                seen = torch.cat([seen, tok.view(-1, 1)], 1)
                if runner.window and seen.shape[1] > runner.window:  # the context is full: the last half again
                    y, state = runner.run(seen[:, -(runner.window // 2):], runner.start({}))
                    logp = runner.log_probs(y)
                else:
                    logp, state = runner.step(tok, state)
            res = torch.stack(got, 1).numpy() if got else np.zeros((len(idx), 0), np.int64)
            for j, i in enumerate(idx):
                out[i] = res[j]
    return out  # type: ignore[return-value]


def row_generator(seed: int, prefix: np.ndarray) -> torch.Generator:
    """The random stream of one generated row: from the node's seed and the row's own prefix ids."""
    mixed = zlib.crc32(np.asarray(prefix, np.int64).tobytes(), int(seed) & 0xFFFFFFFF) ^ (int(seed) >> 32 << 32)
    return torch.Generator().manual_seed(mixed)


def pick(logp: torch.Tensor, temperature: float, top_k: int | None, gen: torch.Generator | list,
         banned: Sequence[int] = (), top_p: float | None = None) -> torch.Tensor:
    """One id per row from log-probabilities: argmax at temperature 0, else a draw from softmax(logp / T)
    restricted to the `top_k` most likely ids and to the smallest set of ids whose probability reaches `top_p`
    (nucleus sampling)."""
    logp = logp.clone()
    if banned:
        logp[:, list(banned)] = -float("inf")
    if temperature <= 0:
        return logp.argmax(-1)
    logits = logp / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -float("inf"))
    if top_p is not None and top_p < 1.0:
        srt, order = logits.sort(-1, descending=True)
        before = torch.softmax(srt, -1).cumsum(-1) - torch.softmax(srt, -1)  # mass of the more likely ids
        drop = torch.zeros_like(before, dtype=torch.bool).scatter(-1, order, before >= top_p)  # back in id order
        logits = logits.masked_fill(drop, -float("inf"))
    probs = torch.softmax(logits, -1)
    if isinstance(gen, list):  # one generator per row
        return torch.cat([torch.multinomial(probs[j:j + 1], 1, generator=g) for j, g in enumerate(gen)]).squeeze(1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(1)


# ---------------------------------------------------------------------- encoder-decoder decoding
StepFn = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]
ReorderFn = Callable[[Any, torch.Tensor], Any]


def greedy(step: StepFn, state: Any, batch: int, max_length: int, start: int = START, end: int = END
           ) -> list[list[int]]:
    """Most likely next id at each step until every row has produced `end` or `max_length` ids."""
    tok = torch.full((batch,), start, dtype=torch.long)
    done = torch.zeros(batch, dtype=torch.bool)
    out = []
    for _ in range(max_length):
        logp, state = step(tok, state)
        logp[:, PAD] = -float("inf")
        logp[:, START] = -float("inf")
        tok = logp.argmax(-1)
        tok = torch.where(done, torch.full_like(tok, PAD), tok)
        out.append(tok)
        done |= tok == end
        if bool(done.all()):
            break
    seqs = torch.stack(out, 1).tolist() if out else [[] for _ in range(batch)]
    return [_cut(s, end) for s in seqs]


def _cut(seq: list[int], end: int) -> list[int]:
    out = []
    for t in seq:
        if t == end:
            break
        if t != PAD:
            out.append(t)
    return out


def beam_search(step: StepFn, reorder: ReorderFn, state: Any, batch: int, width: int, max_length: int,
                length_penalty: float = 1.0, start: int = START, end: int = END) -> list[list[int]]:
    """Beam search of `width` per row. A finished hypothesis (it produced `end`) keeps its score; the best
    is chosen by score / length ** length_penalty (0 = raw log-probability, 1 = mean per token).

    `state` is for `batch` rows; it is expanded to batch * width rows here."""
    K = width
    idx = torch.arange(batch).repeat_interleave(K)
    state = reorder(state, idx)
    tok = torch.full((batch * K,), start, dtype=torch.long)
    scores = torch.full((batch, K), -float("inf"))
    scores[:, 0] = 0.0
    finished = torch.zeros(batch, K, dtype=torch.bool)
    lengths = torch.zeros(batch, K)
    history = torch.zeros(batch, K, 0, dtype=torch.long)
    for _ in range(max_length):
        logp, state = step(tok, state)
        V = logp.shape[-1]
        logp = logp.view(batch, K, V).clone()
        logp[..., PAD] = -float("inf")
        logp[..., START] = -float("inf")
        # a finished hypothesis can only be continued by padding, at no cost
        fin = finished.unsqueeze(-1)
        pad_row = torch.full((V,), -float("inf"))
        pad_row[PAD] = 0.0
        logp = torch.where(fin, pad_row.expand_as(logp), logp)
        cand = (scores.unsqueeze(-1) + logp).view(batch, K * V)
        top, pos = cand.topk(K, dim=-1)
        beam, tok2 = pos // V, pos % V
        scores = top
        history = torch.cat([history.gather(1, beam.unsqueeze(-1).expand(-1, -1, history.shape[-1])),
                             tok2.unsqueeze(-1)], dim=-1)
        was_finished = finished.gather(1, beam)
        lengths = lengths.gather(1, beam) + (~was_finished).float()
        finished = was_finished | (tok2 == end)
        flat = (torch.arange(batch).unsqueeze(1) * K + beam).view(-1)
        state = reorder(state, flat)
        tok = tok2.view(-1)
        if bool(finished.all()):
            break
    norm = scores / lengths.clamp_min(1.0) ** length_penalty if length_penalty else scores
    best = norm.argmax(-1)
    return [_cut(history[b, best[b]].tolist(), end) for b in range(batch)]


def decode_batch(runner: GraphRunner, encoder_inputs: dict[str, torch.Tensor], method: str = "greedy",
                 width: int = 4, max_length: int = 50, length_penalty: float = 1.0) -> list[list[int]]:
    """Translate one batch: the encoder once, then greedy or beam-search decoding of the stepped input."""
    state = runner.start(encoder_inputs)
    batch = next(iter(encoder_inputs.values())).shape[0]
    if method == "greedy":
        return greedy(runner.step, state, batch, max_length)
    if method == "beam":
        return beam_search(runner.step, runner.reorder, state, batch, width, max_length, length_penalty)
    raise DecodeError(f"option 'method' must be 'greedy' or 'beam'; it is '{method}'")


# ---------------------------------------------------------------------- language-model evaluation
@torch.no_grad()
def stream_log_loss(runner: GraphRunner, ids: np.ndarray, chunk: int = 100, streams: int = 32,
                    progress: Callable[[float], None] | None = None) -> tuple[float, int]:
    """Mean negative log-likelihood (nats per token) of predicting each id of `ids` from all ids before it,
    over `streams` parallel pieces of the stream, `chunk` steps at a time with the states carried.
    Returns (mean nll, number of predicted tokens)."""
    ids = np.asarray(ids, dtype=np.int64)
    streams = max(1, min(streams, (len(ids) - 1) // max(chunk, 1) or 1))
    per = (len(ids) - 1) // streams
    if per < 1:
        raise DecodeError("the text is too short to score; it needs at least two tokens")
    x_all = torch.as_tensor(ids[:streams * per].reshape(streams, per))
    y_all = torch.as_tensor(ids[1:streams * per + 1].reshape(streams, per))
    state = runner.start({})
    if runner.window:  # a Transformer: windows of its training length, each from a fresh context
        chunk = runner.window
    total, count = 0.0, 0
    for s in range(0, per, chunk):
        if runner.window:
            state = runner.start({})
        y, state = runner.run(x_all[:, s:s + chunk], state)
        if y.dim() != 3:
            raise DecodeError("the language model must output one prediction per step (an LSTM with "
                              "return_sequences before the output layer) to be scored")
        limit, runner.limit = runner.limit, None  # scoring uses the full distribution
        lp = runner.log_probs(y.reshape(-1, y.shape[-1])).view(y.shape[0], y.shape[1], -1)
        runner.limit = limit
        total -= lp.gather(-1, y_all[:, s:s + chunk].unsqueeze(-1)).sum().item()
        if progress is not None:
            progress(min(1.0, (s + chunk) / per))
        count += y.shape[0] * y.shape[1]
    return total / count, count


# ---------------------------------------------------------------------- what the nodes call
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


def generate(network, vocab, seeds: Sequence[str | None], length: int, temperature: float = 1.0,
             top_k: int | None = None, seed: int = 0, progress: Callable[[float], None] | None = None,
             top_p: float | None = None):
    """`length` tokens sampled after each seed text; returns (generated texts, the seeds' Encoded)."""
    runner = GraphRunner(network)
    check_vocabulary(runner, vocab.size)
    enc = vocab.encode(seeds)
    for i, (text, ids) in enumerate(zip(seeds, enc.ids)):
        if len(ids) == 0:
            raise DecodeError(f"the seed text in row {i} is empty; give at least one character to start from")
    out = sample(runner, [a.astype(np.int64) for a in enc.ids], length, temperature, top_k, seed, top_p=top_p)
    return [vocab.decode(o, stop_at_end=False) for o in out], enc


def translate(network, src_ids: Sequence[np.ndarray], tgt_vocab, method: str = "greedy", width: int = 4,
              max_length: int = 50, length_penalty: float = 1.0, batch_size: int = 64, padding: str = "post",
              decoder_input: str | None = None, progress: Callable[[float], None] | None = None,
              cancelled: Callable[[], None] | None = None) -> list[str]:
    """Decode each source id sequence with the encoder-decoder `network` (or its GraphRunner); returns the texts."""
    from .text import pad_sequences

    runner = network if isinstance(network, GraphRunner) else GraphRunner(network, decoder_input or None)
    if not runner.reads_static:
        raise DecodeError(f"the decoder part of the network (after input '{runner.step_input}') reads nothing "
                          "from the encoder: connect the encoder LSTM's state outputs (return_state) to the "
                          "decoder LSTM's initial-state inputs, or add an attention layer over the encoder's sequence")
    if len(runner.static_inputs) != 1:
        raise DecodeError("the network must have exactly two inputs, the encoder's and the decoder's; it has "
                          + ", ".join(repr(n) for n in runner.inputs))
    check_vocabulary(runner, tgt_vocab.size, "target dictionary")
    src_name = runner.static_inputs[0]
    fixed = runner.input_lengths.get(src_name)
    for i, s in enumerate(src_ids):
        if fixed is not None and len(s) > fixed:
            raise DecodeError(f"the source in row {i} has {len(s)} tokens but the network's input '{src_name}' "
                              f"takes at most {fixed}; shorten the text or set a length when making the ids")
    texts: list[str] = []
    n = len(src_ids)
    for b in range(0, n, batch_size):
        if cancelled is not None:
            cancelled()
        chunk = src_ids[b:b + batch_size]
        x = torch.as_tensor(pad_sequences(chunk, fixed, padding).astype(np.int64))
        seqs = decode_batch(runner, {src_name: x}, method, width, max_length, length_penalty)
        texts += [tgt_vocab.decode(s) for s in seqs]
        if progress is not None:
            progress(min(1.0, (b + batch_size) / n))
    return texts
