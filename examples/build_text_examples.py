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
    wf = Workflow("Character language model (KJV Bible)")

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
    wf.add("deepnodes.layers.Embedding", "embedding", {"input_dim": 67, "output_dim": 64}, "Embedding 64", at(1, 4))
    wf.add("deepnodes.layers.LSTM", "lstm", {"units": 256, "return_sequences": True}, "LSTM 256", at(2, 4))
    wf.add("deepnodes.layers.Dense", "dense", {"units": 67, "activation": "softmax"}, "Dense softmax", at(3, 4))
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
        ("input", "network", "embedding", "input"), ("embedding", "network", "lstm", "input"),
        ("lstm", "network", "dense", "input"), ("dense", "network", "learner", "network"),
        ("windows", "table", "learner", "table"),
        ("learner", "network", "generator", "network"), ("dictionary", "dictionary", "generator", "dictionary"),
        ("seeds", "table", "generator", "table"),
        ("learner", "network", "scorer", "network"), ("dictionary", "dictionary", "scorer", "dictionary"),
        ("test_text", "table", "scorer", "table"),
    ]:
        wf.connect(a, ap, b, bp)
    return wf


if __name__ == "__main__":
    language_model().save(HERE / "language_model.json")
    print("wrote", HERE / "language_model.json")
