"""Small networks built the way layer nodes build them (graph.append_layer + build.extend_network)."""
from __future__ import annotations

from deepnodes.dl import graph
from deepnodes.dl.build import LayerBuilder
from deepnodes.dl.network import Network


def _net(spec, seed: int = 0):
    """A network as a layer node outputs it, its weights drawn from `seed` (so tests are repeatable)."""
    return Network(spec, metadata={"seed": seed}, builder=LayerBuilder({}, seed=seed))


def add(upstreams, kind, config=None, name=None, input_tensors=None, state_from=None):
    return graph.append_layer(upstreams, kind, config or {}, name, input_tensors, state_from)[0]


def char_lm(vocab: int, emb: int = 8, units: int = 16, length=None, return_sequences: bool = True):
    x = graph.input_spec([length if length else None], "int64", "chars")
    x = add([x], "Embedding", {"input_dim": vocab, "output_dim": emb})
    x = add([x], "LSTM", {"units": units, "return_sequences": return_sequences})
    x = add([x], "Dense", {"units": vocab, "activation": "softmax"})
    return _net(x)


def seq2seq(src_vocab: int, tgt_vocab: int, emb: int = 8, units: int = 16, attention: str | None = "Attention",
            src_len=None, bidirectional_decoder: bool = False, decoder_state: bool = True):
    s = graph.input_spec([src_len], "int64", "source")
    t = graph.input_spec([None], "int64", "target_in")
    se = add([s], "Embedding", {"input_dim": src_vocab, "output_dim": emb}, "src_emb")
    enc = add([se], "LSTM", {"units": units, "return_sequences": True, "return_state": True}, "encoder")
    te = add([t], "Embedding", {"input_dim": tgt_vocab, "output_dim": emb}, "tgt_emb")
    if bidirectional_decoder:
        dec = add([te], "Bidirectional", {"units": units // 2, "return_sequences": True}, "decoder")
    elif decoder_state:
        dec = add([te, enc, enc], "LSTM", {"units": units, "return_sequences": True}, "decoder", state_from=1)
    else:
        dec = add([te], "LSTM", {"units": units, "return_sequences": True}, "decoder")
    if attention:
        att = add([dec, enc, s], attention, {}, "attention")
        from deepnodes.dl.layers import load_all

        if "Concatenate" in load_all():  # Luong: [context; decoder state] before the output layer
            dec = add([att, dec], "Concatenate", {"axis": -1}, "concat")
        else:
            dec = att
    out = add([dec], "Dense", {"units": tgt_vocab, "activation": "softmax"}, "probs")
    if not decoder_state and not attention:  # keep the encoder as a second output, unconnected to the decoder
        out = graph.collect_outputs([out, enc])[0]
    return _net(out)
