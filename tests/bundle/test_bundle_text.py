"""`deepnodes export` of a text classifier: Text to Index Sequence travels as data (a character or word dictionary's
tokens, a subword tokenizer's sentencepiece model file) and the bundle's predict.py, where only onnxruntime, numpy,
pillow and sentencepiece can be imported, gives the workflow's numbers; a decoding loop is refused, naming it."""
import json
import os
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepnodes.cli import main
from deepnodes.core import Engine, Workflow
from tests.bundle.test_bundle_export import _plain_python

DICTIONARIES = {"subword": ("deepnodes.text.SubwordTokenizer", {"vocab_size": 120}),
                "word": ("deepnodes.text.WordDictionary", {"min_count": 2}),
                "character": ("deepnodes.text.CharacterDictionary", {"lowercase": True})}


def _pairs(split: str, n: int) -> list[tuple[str, str]]:
    """Real rows: English and German sentences of the offline en-de-pairs dataset, labelled with their language."""
    from deepnodes.datasets.registry import load_dataset

    t = load_dataset("en-de-pairs", split, None, n)
    return [(s, "en") for s in t.column("english").to_pylist()] + [(s, "de") for s in t.column("german").to_pylist()]


def _csv(path, rows) -> None:
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "language"])
        w.writerows(rows)


def _workflow(tmp, level: str, ids: dict):
    _csv(tmp / "train.csv", _pairs("train", 150))
    _csv(tmp / "test.csv", _pairs("test", 12))
    dtype, dcfg = DICTIONARIES[level]

    binding = [{"columns": ["text_ids"], "converter": "tensor"}]
    target = [{"columns": ["language"], "loss": "sparse_categorical_crossentropy"}]
    nodes = [("train", "data.CSVReader", {"path": str(tmp / "train.csv")}),
             ("test", "data.CSVReader", {"path": str(tmp / "test.csv")}),
             ("dictionary", dtype, {"text_column": "text", **dcfg}),
             ("train_ids", "text.TextToIndexSequence", {"text_column": "text", **ids}),
             ("test_ids", "text.TextToIndexSequence", {"text_column": "text", **ids}),
             ("input", "layers.Input", {"name": "text_ids", "shape": [ids["length"]], "dtype": "int64"}),
             ("embedding", "layers.Embedding", {"output_dim": 8}), ("pool", "layers.GlobalAveragePooling1D", {}),
             ("dense", "layers.Dense", {"units": 2, "activation": "softmax"}),
             ("learner", "dl.NetworkLearner", {"epochs": 3, "seed": 1, "batch_size": 32, "inputs": binding,
                                               "targets": target}),
             ("executor", "dl.NetworkExecutor", {"backend": "torch", "inputs": binding})]
    links = ["train.table dictionary.table", "train.table train_ids.table", "dictionary.dictionary train_ids.dictionary",
             "test.table test_ids.table", "dictionary.dictionary test_ids.dictionary",
             "dictionary.dictionary embedding.dictionary", "input.network embedding.input",
             "embedding.network pool.input", "pool.network dense.input", "dense.network learner.network",
             "train_ids.table learner.table", "learner.network executor.network", "test_ids.table executor.table"]
    conns = []
    for pair in links:
        (a, ap), (b, bp) = (x.split(".") for x in pair.split())
        conns.append({"source": a, "source_port": ap, "target": b, "target_port": bp})
    nodes = [{"id": i, "type": t if t.startswith("deepnodes.") else "deepnodes." + t, "config": c} for i, t, c in nodes]
    p = tmp / "language.json"
    p.write_text(json.dumps({"format": "deepnodes.workflow/1", "name": "which language", "nodes": nodes,
                             "connections": conns}))
    return p


@pytest.mark.parametrize("level, ids", [
    ("subword", {"length": 12, "add_end": True}),
    ("character", {"length": 24, "add_start": True, "padding": "pre", "truncating": "pre"}),
])
def test_text_bundle_predicts_like_the_workflow_without_deepnodes_or_torch(tmp_path, level, ids):
    wf_path = _workflow(tmp_path, level, ids)
    engine = Engine(Workflow.load(wf_path))
    res = engine.run()
    assert res.ok, {k: v.message for k, v in engine.status.items() if v.state != "executed"}
    engine.save_results(wf_path.with_suffix(".results"))
    want = engine.output("executor", "table").to_pylist()
    out = tmp_path / "bundle"
    assert main(["export", str(wf_path), "--out", str(out)]) == 0
    b = json.loads((out / "bundle.json").read_text())
    step = b["inputs"][0]["steps"][0]
    assert step["op"] == "text" and step["node"] == "test_ids" and step["level"] == level
    reqs = (out / "requirements.txt").read_text().split()
    if level == "subword":  # the model travels as its own file, named in the step, never inside bundle.json
        assert (out / step["model_file"]).is_file() and "model" not in step and reqs[-1] == "sentencepiece"
    else:
        assert "tokens" in step and reqs == ["onnxruntime", "numpy", "pillow"]
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"text": r["text"]} for r in want]))
    py = _plain_python(tmp_path, extra=("sentencepiece",))
    env = {"PATH": os.environ.get("PATH", ""), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(py + [str(out / "predict.py"), str(rows)], capture_output=True, text=True, env=env,
                       timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(got) == len(want) == 24
    name = b["outputs"][0]["name"]
    for g, w in zip(got, want):
        assert np.max(np.abs(np.asarray(g[name]) - np.asarray(w[name]))) < 1e-5
        assert g["prediction"] == w["prediction"] and abs(g["probability"] - w["probability"]) < 1e-5
    r = subprocess.run(py + [str(out / "predict.py"), want[0]["text"]], capture_output=True, text=True, env=env,
                       timeout=120, cwd=tmp_path)  # a text on the command line is one row
    assert r.returncode == 0 and json.loads(r.stdout)["prediction"] == want[0]["prediction"], r.stderr


@pytest.fixture(scope="module")
def vocabularies():
    from deepnodes.dl.text import build_character_vocabulary, build_word_vocabulary, train_subword_vocabulary

    texts = [t for t, _ in _pairs("train", 150)]
    return {"character": build_character_vocabulary(texts, 2, lowercase=False),
            "word": build_word_vocabulary(texts, 2, lowercase=True),
            "subword": train_subword_vocabulary(texts, 120, "unigram", 1.0, False)}


TEXTS = [t for t, _ in _pairs("test", 20)] + ["", "Ünïcödé ☃ — and unseen wörds!", "don't", "  spaces  "]


@settings(max_examples=60, deadline=None)
@given(level=st.sampled_from(sorted(DICTIONARIES)), picks=st.lists(st.sampled_from(TEXTS), min_size=1, max_size=6),
       add_start=st.booleans(), add_end=st.booleans(), length=st.one_of(st.none(), st.integers(1, 30)),
       padding=st.sampled_from(["post", "pre"]), truncating=st.sampled_from(["post", "pre"]))
def test_the_bundles_text_step_gives_the_nodes_ids(tmp_path_factory, vocabularies, level, picks, add_start, add_end,
                                                    length, padding, truncating):
    """For every dictionary level and every option of Text to Index Sequence the bundle's numpy-only step gives the
    ids DeepNodes' own encoder gives (unknown tokens, truncation keeping </s> or <s>, padding either side)."""
    from deepnodes.bundle.predict import text_step
    from deepnodes.dl.text import index_sequences

    vocab = vocabularies[level]
    folder = tmp_path_factory.getbasetemp() / f"sp_{level}"
    step = {"op": "text", "column": "text", "add_start": add_start, "add_end": add_end, "length": length,
            "padding": padding, "truncating": truncating, "level": vocab.level, "lowercase": vocab.lowercase}
    if level == "subword":
        folder.mkdir(exist_ok=True)
        (folder / "tok.model").write_bytes(vocab.sp_model)
        step["model_file"] = "tok.model"
    else:
        step["tokens"] = vocab.tokens
    want, _, _ = index_sequences(vocab, picks, add_start, add_end, length, True, padding, truncating)
    got = text_step(picks, step, folder)
    assert got.dtype == np.int32 and got.tolist() == want.tolist()


@pytest.mark.parametrize("example, node", [("translation_service.json", "translate"),
                                           ("translation_en_de.json", "decoder_node"),
                                           ("language_model.json", "generator")])
def test_export_refuses_a_decoding_loop_naming_its_node(tmp_path, capsys, example, node):
    from pathlib import Path

    wf = Path(__file__).resolve().parents[2] / "examples" / example
    assert main(["export", str(wf), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert f"node '{node}'" in err and "serve-workflow" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists()


def test_export_refuses_unpadded_ids_naming_the_option(tmp_path, capsys):
    wf_path = _workflow(tmp_path, "word", {"length": 10})
    engine = Engine(Workflow.load(wf_path))
    assert engine.run().ok
    engine.save_results(wf_path.with_suffix(".results"))
    wf = Workflow.load(wf_path)
    wf.set_option("test_ids", "pad", False)
    wf.save(wf_path)
    assert main(["export", str(wf_path), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "node 'test_ids'" in err and "option pad" in err and "Traceback" not in err
