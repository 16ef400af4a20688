"""The dictionary travels with the network: connected to an Embedding (input_dim) and the output Dense (units),
it sets their sizes and the trained network carries it to the Text Generator (no dictionary connected there)."""
from __future__ import annotations

import pyarrow as pa
import pytest
import torch

from deepnodes.core import NodeError
from deepnodes.datasets.text import kjv_table
from deepnodes.dl import text as T
from deepnodes.dl.options import TrainingOptions
from deepnodes.dl.train import LossSpec, train
from tests.text.helpers_text import run_node


@pytest.fixture(scope="module")
def verses():
    return kjv_table("train").column("text").to_pylist()[:120]


def _transformer_lm(vocab):
    (net,), _, _ = run_node("deepnodes.layers.Input", {"shape": [None], "dtype": "int64"}, [])
    (net,), specs, _ = run_node("deepnodes.layers.Embedding", {"output_dim": 16, "mask_zero": True}, [net, vocab])
    assert specs[0].outputs[0].shape == (None, 16)
    (net,), _, _ = run_node("deepnodes.layers.SinePositionEncoding", {}, [net])
    (net,), _, _ = run_node("deepnodes.layers.TransformerDecoder", {"intermediate_dim": 32, "num_heads": 2}, [net])
    (net,), specs, _ = run_node("deepnodes.layers.Dense", {"activation": "softmax"}, [net, vocab])
    assert specs[0].outputs[0].shape == (None, vocab.size)
    return net


def test_a_connected_dictionary_sets_the_sizes_and_travels_to_the_generator(verses):
    vocab = T.build_character_vocabulary(verses)
    net = _transformer_lm(vocab)
    layers = {e.name: e for e in net.spec.layers}
    assert layers["embedding_1"].config["input_dim"] == vocab.size
    ids, _ = T.stream_ids(vocab, verses)
    x, y = T.sliding_windows(ids, 40, 40)
    res = train(net, [torch.from_numpy(x).long()], [torch.from_numpy(y).long()],
                TrainingOptions(epochs=1, batch_size=32, learning_rate=0.005, seed=1, optimizer="adam"),
                [LossSpec("sparse_categorical_crossentropy")])
    seeds = pa.table({"text": ["And God said", "In the"]})
    cfg = {"length": 20, "temperature": 0.0, "seed": 3}
    (a,), _, _ = run_node("deepnodes.text.TextGenerator", cfg, [res.network, None, seeds])
    (b,), _, _ = run_node("deepnodes.text.TextGenerator", cfg, [res.network, vocab, seeds])
    assert a.column("generated").to_pylist() == b.column("generated").to_pylist()
    assert all(len(g) == 20 for g in a.column("generated").to_pylist())


def test_a_network_without_a_dictionary_asks_for_one(verses):
    from tests.seq.seq_nets import char_lm

    net = char_lm(20, emb=8, units=8)
    with pytest.raises(NodeError, match="input 'dictionary' is not connected and the network carries no dictionary"):
        run_node("deepnodes.text.TextGenerator", {"length": 3}, [net, None, pa.table({"text": ["And"]})])
