"""The translation example (examples/translation_en_de.json and the workflows built on it) shrunk to a slice that
trains in seconds: one set of sizes for every test that trains it."""


def shrink_translation(wf, test_rows: int, max_length: int, decoders=("decoder_node",)) -> None:
    wf.set_option("train_pairs", "limit", 600)
    wf.set_option("val_pairs", "limit", 40)
    wf.set_option("test_pairs", "limit", test_rows)
    for n in ("en_tok", "de_tok"):
        wf.set_option(n, "vocab_size", 250)
    for n in ("src_emb", "tgt_emb"):
        wf.set_option(n, "input_dim", 250)
        wf.set_option(n, "output_dim", 16)
    wf.set_option("probs", "units", 250)
    for n in ("encoder", "decoder", "hidden"):
        wf.set_option(n, "units", 32)
    wf.set_option("learner", "epochs", 2)
    for n in decoders:
        wf.set_option(n, "max_length", max_length)
