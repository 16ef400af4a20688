"""examples/translation_service.json as the README says: train and save with `deepnodes run`, serve with
`deepnodes serve-workflow`, POST English sentences through real HTTP on 127.0.0.1 (on a small slice: a small
network, 2 epochs on 600 pairs). The service's German is the workflow's own: the same sentences decoded by the
example's test-set Sequence Decoder in the saved results."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("httpx")
sys.path.insert(0, str(Path(__file__).parent))
from service_http_util import CLI, ENV, post, start, stop  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "text"))
from translation_slice import shrink_translation  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = EXAMPLES / "translation_service.json"


def test_example_file_matches_its_builder():
    from deepnodes.core import Workflow

    spec = importlib.util.spec_from_file_location("build_service_examples", EXAMPLES / "build_service_examples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert Workflow.load(EXAMPLE).to_json() == mod.translation_service().to_json()


def small(path: Path):
    from deepnodes.core import Workflow, registry

    registry.discover()
    wf = Workflow.load(EXAMPLE)
    shrink_translation(wf, test_rows=6, max_length=12, decoders=("decoder_node", "translate"))
    wf.save(path)
    return wf


@pytest.mark.slow
def test_served_translation_answers_like_the_workflow(tmp_path):
    from deepnodes.core import Engine, Workflow

    path = tmp_path / "translate.json"
    small(path)
    r = subprocess.run(CLI + ["run", str(path), "--save-results", "--quiet"], env=ENV, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    eng = Engine(Workflow.load(path))
    eng.load_results(path.with_suffix(".results"))
    tested = eng.output("decoder_node")  # the test sentences, translated by the workflow itself
    english = tested.column("english").to_pylist()
    german = tested.column("translation").to_pylist()
    example = eng.output("translate").column("german").to_pylist()  # the example row, in the normal run
    proc, url = start(path, "--no-token")
    try:
        got = post(url, {"rows": [{"text": s} for s in english]}, token=None)
        assert got.status_code == 200, got.text
        rows = got.json()["rows"]
        assert [row["text"] for row in rows] == english
        assert [row["german"] for row in rows] == german
        one = post(url, {"rows": [{"text": "How are you?"}]}, token=None)
        assert one.status_code == 200 and one.json()["rows"] == [{"text": "How are you?", "german": example[0]}]
        missing = post(url, {"rows": [{"sentence": "Hello."}]}, token=None)
        assert missing.status_code == 422 and "'text'" in missing.json()["error"]
        wrong = post(url, {"rows": [{"text": 12}]}, token=None)
        assert wrong.status_code == 422 and "row 0, column 'text'" in wrong.json()["error"]
        schema = httpx_get(url + "/schema")
        assert schema["columns"] == [{"name": "text", "kind": "string", "description": "an English sentence"}]
    finally:
        stop(proc)


def httpx_get(url: str) -> dict:
    import httpx

    return httpx.get(url, timeout=30).json()
