"""Writes examples/language_model.json and examples/translation_en_de.json (run from the repository root:
`.venv/bin/python examples/build_text_examples.py`). The workflow files are the product; this script only
keeps their layout readable and in one place."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepnodes.core import Workflow  # noqa: E402

HERE = Path(__file__).resolve().parent


def language_model() -> Workflow:
    """KJV → character dictionary → windows → Embedding → LSTM → Dense softmax → Learner → Text Generator
    and Language Model Scorer on the held-out chapters."""
    wf = Workflow("Character language model (KJV Bible)",
                  "A character-level LSTM learns to write in the style of the King James Bible and then generates new text; scored in bits per character.",
                  "about 15 min on a laptop CPU")

    def at(col, row):
        return (col * 230.0, row * 150.0)

    wf.add("deepnodes.data.DatasetReader", "train_text", {"dataset": "kjv-bible", "split": "train"},
           "KJV (train chapters)", at(0, 0))
    wf.add("deepnodes.data.DatasetReader", "test_text", {"dataset": "kjv-bible", "split": "test"},
           "KJV (held-out 5% of chapters)", at(0, 2))
    wf.add("deepnodes.text.CharacterDictionary", "dictionary", {"text_column": "text"}, "Character Dictionary", at(1, 0))
    wf.add("deepnodes.text.SlidingWindows", "windows", {"text_column": "text", "length": 100, "step": 100},
           "Windows of 100 characters", at(2, 0))
    wf.add("deepnodes.layers.Input", "input", {"name": "chars", "shape": [100], "dtype": "int64"}, "Input (100 ids)",
           at(0, 4))
    # input_dim and the Dense units come from the dictionary connected to them (its size)
    wf.add("deepnodes.layers.Embedding", "embedding", {"output_dim": 64}, "Embedding 64", at(1, 4))
    wf.add("deepnodes.layers.LSTM", "lstm", {"units": 256, "return_sequences": True}, "LSTM 256", at(2, 4))
    wf.add("deepnodes.layers.Dense", "dense", {"activation": "softmax"}, "Dense softmax", at(3, 4))
    wf.add("deepnodes.dl.NetworkLearner", "learner", {
        "inputs": [{"columns": ["window"], "converter": "tensor"}],
        "targets": [{"columns": ["target"], "converter": "tokens", "loss": "sparse_categorical_crossentropy"}],
        "epochs": 12, "batch_size": 64, "optimizer": "adam", "learning_rate": 0.002, "clipnorm": 5.0, "seed": 42,
    }, "Network Learner", at(4, 1))
    wf.add("deepnodes.data.DatasetReader", "seeds", {"dataset": "kjv-bible", "split": "test", "limit": 5},
           "Seed texts (5 held-out verses)", at(4, 3))
    wf.add("deepnodes.text.TextGenerator", "generator", {
        "text_column": "text", "length": 300, "temperature": 0.5, "seed": 7, "include_seed": True,
    }, "Text Generator (T = 0.5)", at(5, 0))
    wf.add("deepnodes.text.LanguageModelScorer", "scorer", {"text_column": "text"}, "Language Model Scorer", at(5, 2))
    for a, ap, b, bp in [
        ("train_text", "table", "dictionary", "table"), ("train_text", "table", "windows", "table"),
        ("dictionary", "dictionary", "windows", "dictionary"),
        ("input", "network", "embedding", "input"), ("dictionary", "dictionary", "embedding", "dictionary"),
        ("dictionary", "dictionary", "dense", "dictionary"), ("embedding", "network", "lstm", "input"),
        ("lstm", "network", "dense", "input"), ("dense", "network", "learner", "network"),
        ("windows", "table", "learner", "table"),
        ("learner", "network", "generator", "network"), ("dictionary", "dictionary", "generator", "dictionary"),
        ("seeds", "table", "generator", "table"),
        ("learner", "network", "scorer", "network"), ("dictionary", "dictionary", "scorer", "dictionary"),
        ("test_text", "table", "scorer", "table"),
    ]:
        wf.connect(a, ap, b, bp)
    return wf


def language_model_transformer() -> Workflow:
    """The language model's data, learner, generator and scorer around a decoder-only (causal, pre-norm)
    Transformer: Embedding + learned positions → 4 Transformer Decoder blocks → LayerNorm → Dense softmax."""
    wf = language_model()
    wf.name = "Character language model (KJV Bible, Transformer)"
    wf.description = ("A small decoder-only Transformer (causal self-attention) learns to write in the style of the "
                      "King James Bible; scored in bits per character on the same held-out chapters as the LSTM.")
    wf.runtime = ("about 25 CPU-minutes of training on one thread (5 epochs): 1.42 bits per character on the held-out "
                  "chapters, against the LSTM example's 1.48 (docs/benchmarks.md)")
    for nid in ("lstm", "dense", "input", "embedding"):
        wf.remove(nid)
    wf.set_option("windows", "length", 128)
    wf.set_option("windows", "step", 128)
    wf.nodes["windows"].label = "Windows of 128 characters"

    def at(col, row):
        return (col * 230.0, row * 150.0)

    wf.add("deepnodes.layers.Input", "input", {"name": "chars", "shape": [128], "dtype": "int64"},
           "Input (128 ids)", at(0, 4))
    wf.add("deepnodes.layers.Embedding", "embedding", {"output_dim": 128}, "Embedding 128", at(1, 4))
    wf.add("deepnodes.layers.PositionEmbedding", "position", {"sequence_length": 128}, "Positions (learned)",
           at(2, 4))
    # within 30 CPU-minutes (docs/benchmarks.md): 4 blocks over 5 epochs at batch 32 beat 2 blocks over 11 epochs at
    # batch 64 (1.416 against 1.504 bits per character); no dropout and a cosine-decayed rate beat dropout 0.1 at a
    # constant 1e-3 (1.545 against 1.709, scored in separate windows)
    block = {"intermediate_dim": 512, "num_heads": 4, "dropout": 0.0, "activation": "gelu", "normalize_first": True}
    blocks = [f"block_{i}" for i in range(1, 5)]
    for i, (nid, where) in enumerate(zip(blocks, (at(3, 4), at(0, 5), at(1, 5), at(2, 5))), 1):
        wf.add("deepnodes.layers.TransformerDecoder", nid, block, f"Transformer Decoder {i}", where)
    wf.add("deepnodes.layers.LayerNormalization", "norm", {}, "Layer Normalization", at(3, 5))
    wf.add("deepnodes.layers.Dense", "dense", {"activation": "softmax"}, "Dense softmax", at(4, 5))
    for option, value in (("learning_rate", 0.002), ("lr_schedule", "cosine"), ("warmup", 0.05), ("epochs", 5),
                          ("batch_size", 32), ("clipnorm", 1.0)):
        wf.set_option("learner", option, value)
    for a, ap, b, bp in [
        ("input", "network", "embedding", "input"), ("dictionary", "dictionary", "embedding", "dictionary"),
        ("embedding", "network", "position", "input"), ("position", "network", "block_1", "decoder_sequence"),
        *[(x, "network", y, "decoder_sequence") for x, y in zip(blocks, blocks[1:])],
        ("block_4", "network", "norm", "input"),
        ("norm", "network", "dense", "input"), ("dictionary", "dictionary", "dense", "dictionary"),
        ("dense", "network", "learner", "network"),
    ]:
        wf.connect(a, ap, b, bp)
    return wf


SRC_VOCAB = 2000
TGT_VOCAB = 2000


def _decoder_and_scorer(wf: Workflow, nid: str, scorer: str, options: dict, label: str, row: int) -> None:
    """A Sequence-to-Sequence Decoder of the test English and the BLEU / chrF scorer of its translations."""
    wf.add("deepnodes.text.SequenceDecoder", nid, {"source_column": "english", "output_column": "translation",
                                                   **options, "add_end": True, "max_length": 60},
           f"Decoder ({label})", (10 * 230.0, row * 150.0))
    wf.add("deepnodes.text.TranslationScorer", scorer, {"reference_column": "german",
                                                        "prediction_column": "translation"},
           "BLEU / chrF" + (" (greedy)" if options["method"] == "greedy" else ""), (11 * 230.0, row * 150.0))


def translation() -> Workflow:
    """Ding pairs → subword tokenizers → encoder-decoder LSTM with Luong attention, built from layer nodes
    (the encoder's states start the decoder; the decoder reads the target shifted by one) → Learner →
    Sequence-to-Sequence Decoder (beam search) → BLEU / chrF."""
    wf = Workflow("English to German translation (encoder-decoder LSTM with attention)",
                  "An encoder-decoder LSTM with attention learns to translate English sentences into German; beam search decodes, BLEU and chrF score the translations.",
                  "about 25 min on a laptop CPU")

    def at(col, row):  # 150 px between rows: the node titles never overlap
        return (col * 230.0, row * 150.0)

    wf.add("deepnodes.data.DatasetReader", "train_pairs", {"dataset": "en-de-pairs", "split": "train"},
           "Ding pairs (train)", at(0, 0))
    wf.add("deepnodes.data.DatasetReader", "val_pairs", {"dataset": "en-de-pairs", "split": "validation"},
           "Ding pairs (validation)", at(0, 1))
    wf.add("deepnodes.data.DatasetReader", "test_pairs", {"dataset": "en-de-pairs", "split": "test"},
           "Ding pairs (test)", at(0, 2))
    wf.add("deepnodes.text.SubwordTokenizer", "en_tok", {"text_column": "english", "vocab_size": SRC_VOCAB},
           "English subwords", at(1, 0))
    wf.add("deepnodes.text.SubwordTokenizer", "de_tok", {"text_column": "german", "vocab_size": TGT_VOCAB},
           "German subwords", at(1, 1))
    src_ids = {"text_column": "english", "output_column": "source", "add_end": True, "pad": False}
    tgt_ids = {"text_column": "german", "output_column": "german", "teacher_forcing": True, "pad": False}
    for split, row in (("train", 0), ("val", 1)):
        wf.add("deepnodes.text.TextToIndexSequence", f"{split}_src", src_ids, f"English ids ({split})", at(2, row * 2))
        wf.add("deepnodes.text.TextToIndexSequence", f"{split}_tgt", tgt_ids, f"German ids, shifted ({split})",
               at(3, row * 2))
    # the network, from layer nodes
    wf.add("deepnodes.layers.Input", "source", {"name": "source", "shape": [-1], "dtype": "int64"},
           "Input: English ids", at(0, 4))
    wf.add("deepnodes.layers.Embedding", "src_emb", {"name": "src_emb", "input_dim": SRC_VOCAB, "output_dim": 128},
           "Embedding 128", at(1, 4))
    wf.add("deepnodes.layers.LSTM", "encoder", {"name": "encoder", "units": 256, "return_sequences": True,
                                                "return_state": True}, "Encoder LSTM 256 (states)", at(2, 4))
    wf.add("deepnodes.layers.Input", "target_in", {"name": "target_in", "shape": [-1], "dtype": "int64"},
           "Input: German ids shifted", at(0, 5))
    wf.add("deepnodes.layers.Embedding", "tgt_emb", {"name": "tgt_emb", "input_dim": TGT_VOCAB, "output_dim": 128},
           "Embedding 128", at(1, 5))
    wf.add("deepnodes.layers.LSTM", "decoder", {"name": "decoder", "units": 256, "return_sequences": True},
           "Decoder LSTM 256 (initial state = encoder's)", at(3, 5))
    wf.add("deepnodes.layers.Attention", "attention", {"name": "attention"}, "Luong attention", at(4, 4))
    wf.add("deepnodes.layers.Concatenate", "concat", {"name": "concat", "axis": -1}, "[context; decoder]", at(5, 5))
    wf.add("deepnodes.layers.Dense", "hidden", {"name": "attentional", "units": 256, "activation": "tanh"},
           "Dense 256 tanh", at(6, 5))
    wf.add("deepnodes.layers.Dropout", "dropout", {"name": "dropout", "rate": 0.3}, "Dropout 0.3", at(7, 5))
    wf.add("deepnodes.layers.Dense", "probs", {"name": "probs", "units": TGT_VOCAB, "activation": "softmax"},
           "Dense softmax", at(8, 5))
    wf.add("deepnodes.dl.NetworkLearner", "learner", {
        "inputs": [{"columns": ["source"], "converter": "tokens", "network_input": "source"},
                   {"columns": ["german_input"], "converter": "tokens", "network_input": "target_in"}],
        "targets": [{"columns": ["german_target"], "converter": "tokens", "loss": "sparse_categorical_crossentropy",
                     "label_smoothing": 0.1}],
        "epochs": 12, "batch_size": 64, "optimizer": "adam", "learning_rate": 0.002, "clipnorm": 1.0, "seed": 42,
        "early_stopping": True, "patience": 2, "restore_best_weights": True,
    }, "Network Learner", at(9, 1))
    _decoder_and_scorer(wf, "decoder_node", "scorer", {"method": "beam", "beam_width": 4}, "beam 4", 2)
    for a, ap, b, bp in [
        ("train_pairs", "table", "en_tok", "table"), ("train_pairs", "table", "de_tok", "table"),
        ("train_pairs", "table", "train_src", "table"), ("en_tok", "dictionary", "train_src", "dictionary"),
        ("train_src", "table", "train_tgt", "table"), ("de_tok", "dictionary", "train_tgt", "dictionary"),
        ("val_pairs", "table", "val_src", "table"), ("en_tok", "dictionary", "val_src", "dictionary"),
        ("val_src", "table", "val_tgt", "table"), ("de_tok", "dictionary", "val_tgt", "dictionary"),
        ("source", "network", "src_emb", "input"), ("src_emb", "network", "encoder", "input"),
        ("target_in", "network", "tgt_emb", "input"), ("tgt_emb", "network", "decoder", "input"),
        ("encoder", "network", "decoder", "initial_h"), ("encoder", "network", "decoder", "initial_c"),
        ("decoder", "network", "attention", "query"), ("encoder", "network", "attention", "value"),
        ("source", "network", "attention", "value_ids"),
        ("attention", "network", "concat", "input_1"), ("decoder", "network", "concat", "input_2"),
        ("concat", "network", "hidden", "input"), ("hidden", "network", "dropout", "input"),
        ("dropout", "network", "probs", "input"),
        ("probs", "network", "learner", "network"), ("train_tgt", "table", "learner", "table"),
        ("val_tgt", "table", "learner", "validation"),
        ("learner", "network", "decoder_node", "network"), ("de_tok", "dictionary", "decoder_node", "target_dictionary"),
        ("test_pairs", "table", "decoder_node", "table"), ("en_tok", "dictionary", "decoder_node", "source_dictionary"),
        ("decoder_node", "table", "scorer", "table"),
    ]:
        wf.connect(a, ap, b, bp)
    return wf


def translation_transformer() -> Workflow:
    """The translation example's data, tokenizers, test split, learner and scorers around an encoder-decoder
    Transformer (pre-norm, learned positions, padding masks from Embedding(mask_zero)): 2 encoder blocks over the
    English ids, 2 decoder blocks (causal self-attention, cross-attention on the encoder) over the German ids
    shifted by one, Layer Normalization, Dense softmax. Decoded both greedily and by beam search."""
    wf = translation()
    wf.name = "English to German translation (encoder-decoder Transformer)"
    wf.description = ("An encoder-decoder Transformer learns to translate English sentences into German on the same "
                      "pairs, subword tokenizers and test split as the LSTM example; greedy decoding and beam search, "
                      "scored by BLEU and chrF.")
    wf.runtime = ("about 25 CPU-minutes of training on one thread (early stopping after 17 of 20 epochs): beam 4 gives "
                  "4.4 BLEU / 22.7 chrF, below the LSTM example's 4.8 / 24.1 here (docs/benchmarks.md)")
    for nid in ("source", "src_emb", "encoder", "target_in", "tgt_emb", "decoder", "attention", "concat", "hidden",
                "dropout", "probs"):
        wf.remove(nid)

    def at(col, row):
        return (col * 230.0, row * 150.0)

    dim = 128
    block = {"intermediate_dim": 256, "num_heads": 4, "dropout": 0.1, "activation": "gelu", "normalize_first": True}
    for prefix, inp, label, row in (("src", "source", "English ids", 4), ("tgt", "target_in", "German ids shifted", 5)):
        wf.add("deepnodes.layers.Input", inp, {"name": inp, "shape": [-1], "dtype": "int64"}, f"Input: {label}",
               at(0, row))
        wf.add("deepnodes.layers.Embedding", f"{prefix}_emb", {"name": f"{prefix}_emb", "output_dim": dim,
                                                              "mask_zero": True}, "Embedding 128 (mask padding)",
               at(1, row))
        wf.add("deepnodes.layers.PositionEmbedding", f"{prefix}_pos", {"name": f"{prefix}_pos", "sequence_length": 256},
               "Positions (learned)", at(2, row))
    for kind, side, row, col, note in (("TransformerEncoder", "encoder", 4, 3, ""),
                                       ("TransformerDecoder", "decoder", 5, 6, " (cross-attention)")):
        for i in (1, 2):
            wf.add(f"deepnodes.layers.{kind}", f"{side}_{i}", {"name": f"{side}_{i}", **block},
                   f"Transformer {side.capitalize()} {i}{note}", at(col + i - 1, row))
        wf.add("deepnodes.layers.LayerNormalization", f"{side}_norm", {"name": f"{side}_norm"}, "Layer Normalization",
               at(col + 2, row))
    wf.add("deepnodes.layers.Dense", "probs", {"name": "probs", "activation": "softmax"}, "Dense softmax", at(9, 5))
    wf.set_option("learner", "learning_rate", 0.001)
    wf.set_option("learner", "epochs", 20)
    wf.set_option("learner", "patience", 3)
    _decoder_and_scorer(wf, "greedy_node", "greedy_scorer", {"method": "greedy"}, "greedy", 3)
    for a, ap, b, bp in [
        ("source", "network", "src_emb", "input"), ("en_tok", "dictionary", "src_emb", "dictionary"),
        ("src_emb", "network", "src_pos", "input"), ("src_pos", "network", "encoder_1", "input"),
        ("encoder_1", "network", "encoder_2", "input"), ("encoder_2", "network", "encoder_norm", "input"),
        ("target_in", "network", "tgt_emb", "input"), ("de_tok", "dictionary", "tgt_emb", "dictionary"),
        ("tgt_emb", "network", "tgt_pos", "input"), ("tgt_pos", "network", "decoder_1", "decoder_sequence"),
        ("encoder_norm", "network", "decoder_1", "encoder_sequence"),
        ("decoder_1", "network", "decoder_2", "decoder_sequence"),
        ("encoder_norm", "network", "decoder_2", "encoder_sequence"),
        ("decoder_2", "network", "decoder_norm", "input"), ("decoder_norm", "network", "probs", "input"),
        ("de_tok", "dictionary", "probs", "dictionary"), ("probs", "network", "learner", "network"),
        ("learner", "network", "greedy_node", "network"), ("test_pairs", "table", "greedy_node", "table"),
        ("greedy_node", "table", "greedy_scorer", "table"),
    ]:
        wf.connect(a, ap, b, bp)
    return wf


if __name__ == "__main__":
    for name, make in (("language_model.json", language_model), ("translation_en_de.json", translation),
                       ("language_model_transformer.json", language_model_transformer),
                       ("translation_transformer_en_de.json", translation_transformer)):
        make().save(HERE / name)
        print("wrote", HERE / name)
