"""Per-batch trimming of padded token columns: each batch is cut to its own longest real row.

`convert.pad_tokens` pads a list<int> column to the whole table's longest row (the translation pairs: 50 source /
65 target tokens against means of about 15), so every batch would compute all those steps. Where the padding
provably changes nothing, the Learner cuts each training and validation batch after the last column in which any
of its rows still holds a real (non-padding) id. Which inputs qualify is found by walking the layer graph:

- only token columns whose network input has a free time length (`(?,)`; a fixed `(T,)` is padded to T, never cut);
- from the input, the padding must be either *masked* (`Embedding(mask_zero=True)` with padding id 0: attention
  hides the padded keys, recurrent layers carry their state over them, pooling and the loss skip them) or at least
  *causal* (an unmasked embedding read by forward recurrent layers, per-step layers, causal self-attention or
  attention queries: the real steps never see the later padding, and the padded targets are left out of the
  loss by its `ignore_index`);
- anything that reads across the padded steps keeps the table's padding: Flatten, Conv1D, BatchNormalization
  (its batch statistics), Bidirectional, a backwards recurrent layer, an encoder block or pooling over unmasked
  padding, the last state of an unmasked recurrent layer (the LSTM translation example's encoder), a pad id other
  than the mask's, a network without a layer graph;
- tensors whose steps line up are cut together: inputs merged by Add / Multiply / ..., and a token target with
  the inputs its output follows. A group with any tensor that cannot be cut stays whole.

The cut is a view of the batch; batch order and shuffling are unchanged, and a seed gives the same run every time.
"""
from __future__ import annotations

from typing import Any, Sequence

from .graph_runner import MERGE_KINDS as _MERGE, POSITIONWISE_KINDS, RECURRENT_KINDS as _RECURRENT
from .kv_cache import POSITION_KINDS

#: layers whose `axis` option must name the features for them to stay per-step
_AXIS_STEPWISE = {"LayerNormalization", "Softmax", "Concatenate"}
#: layers that compute each time step from that step alone, whatever their options
_STEPWISE = (POSITIONWISE_KINDS - _AXIS_STEPWISE) | POSITION_KINDS | {"SpatialDropout1D"}
_POOL = {"GlobalAveragePooling1D", "GlobalMaxPooling1D"}
_ATTENTION = {"MultiHeadAttention", "Attention", "AdditiveAttention", "TransformerEncoder", "TransformerDecoder"}


def _last_axis(cfg: dict, rank: int) -> bool:
    """The layer's `axis` option (Keras numbering, batch = 0) names the features, not the time steps."""
    ax = cfg.get("axis", -1)
    axes = list(ax) if isinstance(ax, (list, tuple)) else [ax]
    return all(a in (-1, rank) for a in axes)


_ALIGNED = {"raw", "raw0", "masked", "causal", "unsafe"}  # statuses of tensors whose steps are the input's


def _layer_state(layer, states: list, shortened: list[bool]) -> tuple[Any, list]:
    """For one padded input: the status of the layer's first output and of its other outputs, from its inputs'
    statuses. A status is None (independent of that input's padding) or one of: "raw" / "raw0" (its padded ids;
    padding id 0), "masked" (a padding mask hides the padded steps), "causal" (the real steps never see the padded
    ones, but nothing hides those: the loss must skip them), "unsafe" (the real steps depend on how much padding
    there is) — all four with the input's time steps — or "tainted" (values that depend on the padding, without
    its time steps: a recurrent layer's final state, attention over unhidden padded keys). `shortened[i]`: input i
    has some padded input's steps (it is cut too)."""
    n_rest = len(layer.outputs) - 1
    kind, cfg = layer.kind, layer.config
    if kind in ("Attention", "AdditiveAttention") and len(states) > 2 and states[2] == "raw0":
        # value_ids: the padded keys (id 0) are hidden, whatever the value computed there
        states = [states[0], None if states[1] == "causal" else states[1], None, *states[3:]]
    live = [st for st in states if st is not None]
    if not live:
        return None, [None] * n_rest
    if not any(st in _ALIGNED for st in live):
        return "tainted", ["tainted"] * n_rest
    bads = ["unsafe"] * n_rest
    first = states[0]
    if kind in _ATTENTION:  # the first input is the query / the block's sequence, the others keys or memory
        causal_self = bool(cfg.get("use_causal_mask")) and kind in ("TransformerDecoder", "MultiHeadAttention")
        if first == "causal" and kind.startswith("Transformer") and not causal_self:
            return "unsafe", bads  # the block's own self-attention sees the padding
        keys_ok = all(k in (None, "masked") or (k == "causal" and kind == "MultiHeadAttention" and causal_self
                                               and first == "causal") for k in states[1:])
        if first in (None, "tainted"):
            return (first if keys_ok else "tainted"), ["tainted"] * n_rest
        if not keys_ok or first not in ("masked", "causal"):
            return "unsafe", bads  # padded keys that nothing hides
        return first, bads
    if "tainted" in live or "unsafe" in live or "raw" in live or "raw0" in live:
        if kind == "Embedding" and len(live) == 1 and first in ("raw", "raw0"):
            return ("masked" if cfg.get("mask_zero") and first == "raw0" else "causal"), bads
        return "unsafe", bads
    rank = len(layer.outputs[0].shape) if layer.outputs else 2
    if kind in _RECURRENT:
        if first is None or any(st is not None for st in states[1:]) or cfg.get("go_backwards"):
            return "unsafe", bads
        last = None if first == "masked" else "tainted"  # the last real step's state, or the padding's
        return (first if cfg.get("return_sequences") else last), [last] * n_rest
    if kind in _POOL:
        return (None if first == "masked" and rank == 1 else "tainted"), bads
    if kind in _MERGE or (kind == "Concatenate" and _last_axis(cfg, rank)):
        if not all(shortened):
            return "unsafe", bads  # a tensor no cut shortens would no longer line up
        # Concatenate drops the mask; an input with another padded input's steps is cut with this one (`_walk`)
        causal = kind == "Concatenate" or "causal" in live or len(live) < len(states)
        return ("causal" if causal else "masked"), bads
    if kind in _STEPWISE or (kind in _AXIS_STEPWISE and _last_axis(cfg, rank)):
        return first, bads
    return "unsafe", bads


def _walk(spec, raw: dict[int, int], tables: list | None = None) -> tuple[list[dict], list[frozenset]]:
    """Per network output, {padded input index: status} when the inputs in `raw` (index -> padding id) carry
    padding; and the groups of inputs whose steps a merge layer lines up (cut together). `tables` gets
    (layer, its number of positions, the inputs whose steps reach it) for each PositionEmbedding."""
    inputs = list(spec.inputs) or [la.outputs[0] for la in spec.layers if la.kind == "Input"]
    names = {t.name for t in inputs}
    state: dict[str, dict] = {inputs[j].name: {j: "raw0" if pad == 0 else "raw"} for j, pad in raw.items()}
    ties: list[frozenset] = []
    prev = inputs[0].name if inputs else None
    for la in spec.layers:
        if la.kind == "Input":
            src = la.name if la.name in names else (la.inputs[0] if la.inputs else prev)
            s0, rest = dict(state.get(src, {})) if src else {}, []
        else:
            ins = [state.get(t[:-2] if t.endswith(":0") else t, {}) for t in la.inputs] or [state.get(prev, {})]
            origins = sorted(set().union(*ins))
            shortened = [any(st in _ALIGNED for st in d.values()) for d in ins]
            s0, rest = {}, [{} for _ in range(len(la.outputs) - 1)]
            for o in origins:
                a, b = _layer_state(la, [d.get(o) for d in ins], shortened)
                if a is not None:
                    s0[o] = a
                for r, st in zip(rest, b):
                    if st is not None:
                        r[o] = st
            steps = {o for d in ins for o, st in d.items() if st in _ALIGNED}
            if la.kind == "PositionEmbedding" and tables is not None and steps:
                tables.append((la.name, la.config.get("sequence_length"), steps))
            if len(steps) > 1 and (la.kind in _MERGE or la.kind == "Concatenate"):
                ties.append(frozenset(steps))
        state[la.name] = s0
        for k, d in enumerate(rest, start=1):
            state[f"{la.name}:{k}"] = d
        prev = la.name
    outs = spec.output_layers or ((spec.layers[-1].name,) if spec.layers else ())
    return [state.get(o[:-2] if o.endswith(":0") else o, {}) for o in outs], ties


def _real_lengths(data, pad: int):
    """Per row: one past the last position holding a real token (0 for an all-padding row), on the CPU."""
    import torch

    d = data.cpu() if data.device.type != "cpu" else data
    if d.dim() != 2 or d.shape[1] == 0:
        return torch.zeros(len(d), dtype=torch.int64)
    pos = torch.arange(1, d.shape[1] + 1, dtype=torch.int64)
    return ((d != pad).to(torch.int64) * pos).amax(dim=1)


class BatchTrim:
    """Cuts batches of padded token tensors to the batch's longest real row (see the module docstring).
    `epoch(perm, batch_size)` works out every batch's lengths at once on the host (so a CUDA run does not
    synchronise per batch) and returns `perm`; `cut(b, xb, yb)` trims batch `b`'s tensors."""

    def __init__(self, groups: list[tuple[list[int], list[int], Any]] | None = None):
        self.groups = groups or []  # (input indices, target indices, per-row real length)
        self._lens: list[list[int]] = []

    @classmethod
    def of(cls, net, x: Sequence, y: Sequence, losses: Sequence | None = None,
           batch_size: int | None = None) -> "BatchTrim":
        """The trimming for `net` fed `x` / `y` (`Converted`s) with `losses` (`LossSpec`s, one per output: whether
        a target's padding is left out); with `batch_size`, ready for batches in order."""
        trim = cls._plan(net, [_conv(t) for t in x], [_conv(t) for t in y], losses)
        if batch_size:
            trim.epoch(None, batch_size)
        return trim

    @classmethod
    def _plan(cls, net, x: list, y: list, losses) -> "BatchTrim":
        spec = getattr(net, "spec", None)
        if spec is None or not spec.layers:
            return cls()
        cand = {j: t.pad_value for j, t in enumerate(x) if _trimmable(t)}
        if not cand:
            return cls()
        tables: list = []
        out_states, ties = _walk(spec, cand, tables)
        parent = {("x", j): ("x", j) for j in range(len(x))} | {("y", i): ("y", i) for i in range(len(y))}

        def find(a):
            while parent[a] != a:
                a = parent[a]
            return a

        def union(a, b):
            parent[find(a)] = find(b)

        for tie in ties:
            for j in tie:
                union(("x", j), ("x", min(tie)))
        bad = {("x", j) for j in range(len(x)) if j not in cand}
        for i, st in enumerate(out_states):
            t = y[i] if i < len(y) else None
            for j, what in st.items():
                if what not in ("masked", "causal"):
                    bad.add(("x", j))
                if t is None or what not in _ALIGNED:
                    continue  # no loss (what the output gives at the padded steps does not matter), or no steps
                union(("y", i), ("x", j))  # the output's steps follow input j's
                ignored = losses is not None and i < len(losses) and losses[i] is not None and \
                    getattr(losses[i], "ignore_index", None) == getattr(t, "pad_value", None)
                if not _trimmable(t) or (what == "causal" and not ignored):
                    bad.add(("y", i))  # an unhidden padded step the loss would count
        members: dict[Any, list] = {}
        for k in parent:
            members.setdefault(find(k), []).append(k)
        groups = []
        for ms in members.values():
            xs = sorted(j for w, j in ms if w == "x")
            ys = sorted(i for w, i in ms if w == "y")
            if not xs or any(m in bad for m in ms):
                continue
            lens = None
            for w, k in ms:
                t = x[k] if w == "x" else y[k]
                r = _real_lengths(t.data, t.pad_value)
                lens = r if lens is None else lens.maximum(r)
            groups.append((xs, ys, lens))
        _check_positions(tables, groups, [t.name for t in spec.inputs])
        return cls(groups)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def epoch(self, perm, batch_size: int):
        import torch

        self._lens = []
        for _, _, lens in self.groups:
            order = lens if perm is None else lens.index_select(0, perm.cpu())
            m = torch.nn.functional.pad(order, (0, (-len(order)) % batch_size)).view(-1, batch_size).amax(1)
            self._lens.append(m.clamp_min(1).tolist())
        return perm

    def cut(self, b: int, xb: list, yb: list) -> tuple[list, list]:
        if not self.groups:
            return xb, yb
        xb, yb = list(xb), list(yb)
        for (xs, ys, _), lens in zip(self.groups, self._lens):
            t = lens[b]
            for j in xs:
                xb[j] = xb[j][:, :t]
            for i in ys:
                yb[i] = yb[i][:, :t]
        return xb, yb


def _check_positions(tables: list, groups: list, names: list[str]) -> None:
    """A learned position table shorter than the longest row fails now, not at the batch that holds that row."""
    from .losses import TrainingError

    for name, n, steps in tables:
        for xs, _, lens in groups:
            if n is not None and steps & set(xs) and len(lens) and int(lens.max()) > n:
                raise TrainingError(f"layer '{name}' (PositionEmbedding) has {n} positions, but the longest row for "
                                    f"network input '{names[xs[0]]}' has {int(lens.max())} tokens; raise its "
                                    f"option 'sequence_length' or shorten the sequences")


def _conv(t):
    return t if t is None or hasattr(t, "converter") else None  # plain tensors are never trimmed


def _trimmable(t) -> bool:
    return t is not None and getattr(t, "converter", None) == "tokens" and getattr(t, "pad_value", None) is not None \
        and t.data.dim() == 2
