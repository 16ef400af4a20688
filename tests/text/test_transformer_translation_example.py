"""examples/translation_transformer_en_de.json: the file matches its builder, and on a small slice the
encoder-decoder Transformer learns its pairs: greedy decoding and beam search both give back the German of the
sentences it trained on, far above the copy-the-English baseline. (Forty pairs teach no German that carries over
to new sentences; the full run on the 927 test pairs is in docs/benchmarks.md.) The greedy Decoder has no source
dictionary connected: it must take the English one the network carries, although the network's first input is
the decoder's."""
import pytest

from deepnodes.core import Workflow
from deepnodes.dl.text_metrics import corpus_chrf
from tests.text.test_text_examples import EXAMPLES, _builder, _run


def test_the_file_matches_its_builder():
    want = _builder().translation_transformer().to_json()
    assert Workflow.load(EXAMPLES / "translation_transformer_en_de.json").to_json() == want


def _small(wf: Workflow) -> Workflow:
    wf.set_option("train_pairs", "limit", 40)
    wf.set_option("val_pairs", "limit", 20)
    wf.set_option("test_pairs", "split", "train")  # the sentences it trained on
    wf.set_option("test_pairs", "limit", 12)
    for n in ("en_tok", "de_tok"):
        wf.set_option(n, "vocab_size", 250)
    for n in ("src_emb", "tgt_emb"):
        wf.set_option(n, "output_dim", 64)
    for n in ("encoder_1", "encoder_2", "decoder_1", "decoder_2"):
        wf.set_option(n, "intermediate_dim", 128)
        wf.set_option(n, "dropout", 0.0)
    for k, v in (("epochs", 20), ("batch_size", 8), ("learning_rate", 0.005), ("early_stopping", False)):
        wf.set_option("learner", k, v)
    for n in ("decoder_node", "greedy_node"):
        wf.set_option(n, "max_length", 40)
    return wf


@pytest.mark.slow  # about 13 s on a quiet 2-core machine
def test_transformer_translation_learns_its_pairs_on_a_small_slice():
    eng = _run(_small(Workflow.load(EXAMPLES / "translation_transformer_en_de.json")))
    hist = eng.output("learner", "history").to_pylist()
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]
    beam, greedy = eng.output("decoder_node"), eng.output("greedy_node")
    en, de = beam.column("english").to_pylist(), beam.column("german").to_pylist()
    copy = corpus_chrf(en, de)  # the baseline: the English sentence as its own translation
    for out, scorer in ((beam, "scorer"), (greedy, "greedy_scorer")):
        chrf = eng.status[scorer].scalars["chrf"]
        assert chrf == pytest.approx(corpus_chrf(out.column("translation").to_pylist(), de), abs=1e-3)
        assert chrf > 60 > 3 * copy, (scorer, chrf, copy)
