"""Decoding: sampling text from a language model and greedy / beam-search decoding of encoder-decoders.

The algorithms work on a *step function* `step(tokens (M,), state) -> (log_probs (M, V), state)` plus a
`reorder(state, index)` that picks batch rows (beam search). `graph_runner.GraphRunner` provides both for any
network built from layer nodes, running the encoder once and the decoder one step at a time with its states
carried (see that module).
"""
from __future__ import annotations

import zlib
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .graph_runner import DecodeError, GraphRunner, check_vocabulary
from .text import END, PAD, START

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
                    progress: Callable[[float], None] | None = None, stride: int = 0) -> tuple[float, int]:
    """Mean negative log-likelihood (nats per token) of predicting each id of `ids` from the ids before it,
    over `streams` parallel pieces of the stream. Returns (mean nll, number of predicted tokens).

    A recurrent network runs `chunk` steps at a time with its states carried, so every id is predicted from
    everything before it in its piece. A network with a fixed window (a Transformer trained on windows of W
    ids) is scored with sliding windows: windows of W ids start `stride` apart (0: W // 2) and each scores only
    the ids the one before it did not, so after the first window every id is predicted from at least
    W - stride ids before it (`stride` = W: separate windows, each from a fresh context)."""
    ids = np.asarray(ids, dtype=np.int64)
    streams = max(1, min(streams, (len(ids) - 1) // max(chunk, 1) or 1))
    per = (len(ids) - 1) // streams
    if per < 1:
        raise DecodeError("the text is too short to score; it needs at least two tokens")
    x_all = torch.as_tensor(ids[:streams * per].reshape(streams, per))
    y_all = torch.as_tensor(ids[1:streams * per + 1].reshape(streams, per))
    window = runner.window
    if window:
        if stride > window:
            raise DecodeError(f"the stride ({stride}) is longer than the network's window of {window} tokens")
        stride = stride or max(1, window // 2)
    state = runner.start({})
    total, done = 0.0, 0
    while done < per:
        if window:  # a fresh context of up to `window` ids ending at the last id to score
            end = min(per, done + (stride if done else window))
            start, state = max(0, end - window), runner.start({})
        else:
            start, end = done, min(per, done + chunk)
        y, state = runner.run(x_all[:, start:end], state)
        if y.dim() != 3:
            raise DecodeError("the language model must output one prediction per step (an LSTM with "
                              "return_sequences before the output layer) to be scored")
        y = y[:, done - start:]
        limit, runner.limit = runner.limit, None  # scoring uses the full distribution
        lp = runner.log_probs(y.reshape(-1, y.shape[-1])).view(y.shape[0], y.shape[1], -1)
        runner.limit = limit
        total -= lp.gather(-1, y_all[:, done:end].unsqueeze(-1)).sum().item()
        done = end
        if progress is not None:
            progress(done / per)
    return total / (streams * per), streams * per


# ---------------------------------------------------------------------- what the nodes call
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
