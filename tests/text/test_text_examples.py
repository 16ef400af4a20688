"""The two text examples run offline as workflow files, reduced to small slices (the full default
configurations and their figures: docs/benchmarks.md, section "Text examples")."""
import importlib.util
import math
import sys
from pathlib import Path

import pytest

from deepnodes.core import Engine, Workflow

sys.path.insert(0, str(Path(__file__).parent))
from translation_slice import shrink_translation  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _builder():
    spec = importlib.util.spec_from_file_location("build_text_examples", EXAMPLES / "build_text_examples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name,fn", [("language_model", "language_model"), ("translation_en_de", "translation")])
def test_example_files_match_their_builder(name, fn):
    assert Workflow.load(EXAMPLES / f"{name}.json").to_json() == getattr(_builder(), fn)().to_json()


def _run(wf):
    eng = Engine(wf)
    res = eng.run()
    assert res.ok, {n: s.message for n, s in eng.status.items() if s.state == "failed" or "not" in s.message}
    return eng


@pytest.mark.slow
def test_language_model_example_on_a_small_slice():
    wf = Workflow.load(EXAMPLES / "language_model.json")
    wf.set_option("train_text", "limit", 600)
    wf.set_option("test_text", "limit", 60)
    wf.set_option("seeds", "limit", 2)
    wf.set_option("learner", "epochs", 2)
    wf.set_option("learner", "batch_size", 16)
    wf.set_option("embedding", "output_dim", 16)
    wf.set_option("lstm", "units", 32)
    wf.set_option("generator", "length", 40)
    eng = _run(wf)
    bpc = eng.status["scorer"].scalars["bits_per_character"]
    assert bpc < 4.6 < math.log2(67), bpc  # uniform guessing: 6.07 bits; the full configuration: docs/benchmarks.md
    gen = eng.output("generator").column("generated").to_pylist()
    seeds = eng.output("seeds").column("text").to_pylist()
    assert len(gen) == 2 and all(g.startswith(s) and len(g) == len(s) + 40 for g, s in zip(gen, seeds))


@pytest.mark.slow
def test_translation_example_on_a_small_slice():
    wf = Workflow.load(EXAMPLES / "translation_en_de.json")
    shrink_translation(wf, test_rows=20, max_length=15)
    eng = _run(wf)
    hist = eng.output("learner", "history").to_pylist()
    assert hist[-1]["loss"] < hist[0]["loss"] and hist[-1]["val_loss"] < hist[0]["val_loss"]
    out = eng.output("decoder_node")
    assert out.num_rows == 20 and all(isinstance(s, str) for s in out.column("translation").to_pylist())
    s = eng.status["scorer"].scalars
    assert 0 <= s["bleu"] <= 100 and 0 <= s["chrf"] <= 100
