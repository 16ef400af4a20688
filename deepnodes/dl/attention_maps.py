"""Source x target attention maps of an encoder-decoder for one sentence: what the attention view shows.

The network runs once on (source ids, <s> + target ids), on our own inference copy (the input network is not
changed). Every attention whose query comes from the decoder and whose keys come from the encoder is read:
the cross-attention of each TransformerDecoder block (one map per head), a MultiHeadAttention layer used that
way (per head), and a Luong `Attention` or Bahdanau `AdditiveAttention` layer (one map). The weights are the
layer's own softmax (its `return_scores` path, switched on in the copy and stripped again by a forward hook),
so each row sums to 1 over the source and padded source steps get 0.

Rows are the decoder's steps: row i is the step that predicts target token i (the last one predicts </s>).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .text import START

#: the table schema's marker of an attention table (the CLI report and the editor's attention view find it)
VIEW_KEY, VIEW_VALUE = b"deepnodes.view", b"attention"


@dataclass
class AttentionMap:
    layer: str
    head: int            # -1: a single-map attention (Luong / Bahdanau)
    weights: np.ndarray  # (target steps, source steps), float32


def _cross_modules(runner, module) -> list[tuple[str, str, torch.nn.Module]]:
    """(layer name, kind, the attention module) of every decoder -> encoder attention in the network."""
    dep, layer_of = runner.dependent, (lambda t: t.partition(":")[0])
    found = []
    for layer in runner.spec.layers:
        if layer.kind == "Input" or layer_of(layer.inputs[0]) not in dep:
            continue
        m = module.get_submodule(layer.name)
        if layer.kind == "TransformerDecoder":
            if getattr(m, "cross", False):
                found.append((layer.name, "heads", m.cross_attention))
        elif layer.kind in ("MultiHeadAttention", "Attention", "AdditiveAttention"):
            if len(layer.inputs) > 1 and layer_of(layer.inputs[1]) not in dep:
                found.append((layer.name, "heads" if layer.kind == "MultiHeadAttention" else "single", m))
    return found


@torch.no_grad()
def attention_maps(runner, source_ids: np.ndarray, target_ids: list[int]) -> list[AttentionMap]:
    """The maps of one sentence (see the module docstring); `runner` is the network's `decode.GraphRunner`
    (it knows which input is the decoder's). Empty when the network has no decoder -> encoder attention."""
    module = runner.module  # the runner's own eval-mode copy
    found = _cross_modules(runner, module)
    if not found:
        return []
    src_name = runner.static_inputs[0]
    got: dict[str, torch.Tensor] = {}
    handles, restore = [], []
    for name, _, m in found:
        was = m.return_scores
        restore.append((m, was))
        m.return_scores = True

        def hook(_m, _args, out, name=name, was=was):
            got[name] = out[1]
            return out if was else out[0]
        handles.append(m.register_forward_hook(hook))
    try:
        src = torch.as_tensor(np.asarray(source_ids, np.int64)).view(1, -1).to(runner.device)
        tgt = torch.as_tensor([START, *target_ids], dtype=torch.long).view(1, -1).to(runner.device)
        feeds = {src_name: src, runner.step_input: tgt}
        module(*[feeds[n] for n in runner.inputs])
    finally:
        for h in handles:
            h.remove()
        for m, was in restore:
            m.return_scores = was
    maps = []
    for name, how, _ in found:
        w = got[name].float().cpu().numpy()[0]  # (heads, T, S) or (T, S)
        if how == "single":
            maps.append(AttentionMap(name, -1, w))
        else:
            maps += [AttentionMap(name, h, w[h]) for h in range(w.shape[0])]
    return maps


def to_table(maps: list[AttentionMap], source_tokens: list[str], target_tokens: list[str], row: int):
    """The attention port's table: one row per map (layer, head, the sentence's row, its tokens, weights)."""
    import pyarrow as pa

    from deepnodes.table.arrow import tensor_array

    t, s = len(target_tokens), len(source_tokens)
    w = np.stack([m.weights for m in maps]).astype(np.float32) if maps else np.zeros((0, max(t, 1), max(s, 1)),
                                                                                    np.float32)
    cols = {"layer": pa.array([m.layer for m in maps], pa.string()),
            "head": pa.array([m.head for m in maps], pa.int32()),
            "row": pa.array([row] * len(maps), pa.int64()),
            "source_tokens": pa.array([source_tokens] * len(maps), pa.list_(pa.string())),
            "target_tokens": pa.array([target_tokens] * len(maps), pa.list_(pa.string())),
            "weights": tensor_array(w)}
    table = pa.table(cols)
    return table.replace_schema_metadata({VIEW_KEY: VIEW_VALUE})


def is_attention_table(table) -> bool:
    meta = getattr(getattr(table, "schema", None), "metadata", None) or {}
    return meta.get(VIEW_KEY) == VIEW_VALUE


def from_table(table) -> dict:
    """What the editor's view and the PNG draw: tokens and the maps (lists of rows), from an attention table."""
    from deepnodes.table.arrow import to_numpy

    if table.num_rows == 0:
        return {"source": [], "target": [], "row": None, "maps": []}
    w = to_numpy(table.column("weights"))
    layers, heads = table.column("layer").to_pylist(), table.column("head").to_pylist()
    return {"source": table.column("source_tokens")[0].as_py(), "target": table.column("target_tokens")[0].as_py(),
            "row": table.column("row")[0].as_py(),
            "maps": [{"layer": la, "head": h, "weights": w[i].round(4).tolist()}
                     for i, (la, h) in enumerate(zip(layers, heads))]}


def sentence_table(runner, source_ids: np.ndarray, row: int, tgt_vocab, src_vocab=None, method: str = "greedy",
                   width: int = 4, max_length: int = 50, length_penalty: float = 1.0):
    """Decode one source sentence as the Decoder does and return its attention table (`to_table`)."""
    from .decode import decode_batch
    from .text import END

    src = np.asarray(source_ids, np.int64)
    x = torch.as_tensor(src).view(1, -1)
    ids = decode_batch(runner, {runner.static_inputs[0]: x}, method, width, max_length, length_penalty)[0]
    steps = ids + [END] if len(ids) < max_length else ids  # the step that chose </s> is shown too
    maps = attention_maps(runner, src, steps[:-1])  # <s> + all but the last: one row per step

    def names(vocab, seq):
        return [vocab.tokens[i] if vocab is not None and 0 <= i < len(vocab.tokens) else str(i) for i in seq]
    return to_table(maps, names(src_vocab, src.tolist()), names(tgt_vocab, steps), row)
