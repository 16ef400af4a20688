"""examples/language_model_transformer.json: the file matches its builder, and on a small slice the decoder-only
Transformer learns well above the uniform baseline, generates from seeds and is scored with sliding windows."""
import math

from deepnodes.core import Workflow
from tests.text.test_text_examples import EXAMPLES, _builder, _run


def test_the_file_matches_its_builder():
    want = _builder().language_model_transformer().to_json()
    assert Workflow.load(EXAMPLES / "language_model_transformer.json").to_json() == want


def test_transformer_language_model_on_a_small_slice():
    wf = Workflow.load(EXAMPLES / "language_model_transformer.json")
    wf.set_option("train_text", "limit", 600)
    wf.set_option("test_text", "limit", 60)
    wf.set_option("seeds", "limit", 2)
    wf.set_option("learner", "epochs", 3)
    wf.set_option("learner", "batch_size", 16)
    wf.set_option("learner", "learning_rate", 0.003)
    wf.set_option("embedding", "output_dim", 32)
    for b in (n for n, e in wf.nodes.items() if e.type == "deepnodes.layers.TransformerDecoder"):
        wf.set_option(b, "intermediate_dim", 64)
    wf.set_option("generator", "length", 150)  # past the 128-step window: the context slides
    eng = _run(wf)
    bpc = eng.status["scorer"].scalars["bits_per_character"]
    size = eng.output("dictionary").size
    assert bpc < 0.75 * math.log2(size), (bpc, math.log2(size))  # uniform guessing: log2(size) bits
    gen = eng.output("generator").column("generated").to_pylist()
    seeds = eng.output("seeds").column("text").to_pylist()
    assert len(gen) == 2 and all(g.startswith(s) and len(g) == len(s) + 150 for g, s in zip(gen, seeds))
    # scored with sliding windows (each character from at least 64 before it): separate windows of 128, where a
    # window's first characters have little context, score worse; a stride past the window is a sentence
    wf.set_option("scorer", "stride", 128)
    eng.run()
    assert eng.status["scorer"].scalars["bits_per_character"] > bpc, (eng.status["scorer"].scalars, bpc)
    wf.set_option("scorer", "stride", 129)
    eng.run()
    assert eng.status["scorer"].message == ("option 'stride' is 129, but the network sees windows of 128 tokens; "
                                            "use at most 128"), eng.status["scorer"].message
