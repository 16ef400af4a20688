"""The text views' routes on real trained tiny networks: "try it" gives what the workflow's own Decoder / Text
Generator node gives for the same text (same network, same options) without re-running anything; its refusals
are one sentence; the attention route serves the Decoder's maps (rows sum to 1) as its 'attention' output holds
them."""
from __future__ import annotations

import numpy as np
import pytest

from deepnodes.core import Workflow
from tests.server.test_server_api import H, TOKEN, wait_state
from tests.text.test_transformer_lm_example import EXAMPLES
from tests.text.test_transformer_translation_example import _small


def small_lm() -> Workflow:
    wf = Workflow.load(EXAMPLES / "language_model_transformer.json")
    for n, v in (("train_text", 200), ("test_text", 20), ("seeds", 2)):
        wf.set_option(n, "limit", v)
    for k, v in (("epochs", 1), ("batch_size", 16)):
        wf.set_option("learner", k, v)
    wf.set_option("embedding", "output_dim", 16)
    for b in (n for n, e in wf.nodes.items() if e.type == "deepnodes.layers.TransformerDecoder"):
        wf.set_option(b, "intermediate_dim", 32)
    wf.set_option("generator", "length", 30)
    return wf


def _open_and_run(c, tmp_path, wf: Workflow, name: str) -> str:
    wf.save(tmp_path / name)
    doc = c.post("/api/docs/open", headers=H, json={"path": name}).json()
    assert c.post(f"/api/docs/{doc['id']}/execute", headers=H, json={}).status_code == 200
    for nid in wf.nodes:
        assert wait_state(c, doc["id"], nid, timeout=240)["state"] == "executed", nid
    return doc["id"]


@pytest.mark.slow  # trains two tiny networks (about 20 s on a quiet 2-core machine)
def test_try_it_equals_the_nodes_own_output_and_attention_is_served(tmp_path):
    from fastapi.testclient import TestClient

    from deepnodes.server.app import create_app

    with TestClient(create_app(tmp_path, TOKEN)) as c:
        wf = _small(Workflow.load(EXAMPLES / "translation_transformer_en_de.json"))
        wf.set_option("learner", "epochs", 4)
        d = _open_and_run(c, tmp_path, wf, "tr.json")
        rows = c.get(f"/api/docs/{d}/nodes/greedy_node/ports/table/table?limit=3", headers=H).json()
        cols = [col["name"] for col in rows["columns"]]
        for r in rows["rows"]:
            english, want = r[cols.index("english")], r[cols.index("translation")]
            got = c.post(f"/api/docs/{d}/nodes/greedy_node/try", headers=H, json={"text": english})
            assert got.status_code == 200 and got.json()["output"] == want
        beam_row = c.get(f"/api/docs/{d}/nodes/decoder_node/ports/table/table?limit=1", headers=H).json()["rows"][0]
        got = c.post(f"/api/docs/{d}/nodes/decoder_node/try", headers=H, json={"text": beam_row[cols.index("english")]})
        assert got.json()["output"] == beam_row[cols.index("translation")]

        att = c.get(f"/api/docs/{d}/nodes/decoder_node/ports/attention/attention", headers=H).json()
        assert att["row"] == 0 and len(att["maps"]) == 8 and att["source"][-1] == "</s>"
        for m in att["maps"]:
            w = np.array(m["weights"])
            assert w.shape == (len(att["target"]), len(att["source"])) and np.allclose(w.sum(1), 1, atol=2e-3)

        # refusals: one sentence each
        r = c.post(f"/api/docs/{d}/nodes/learner/try", headers=H, json={"text": "x"})
        assert r.status_code == 400 and "not a Text Generator" in r.json()["error"]
        assert c.post(f"/api/docs/{d}/nodes/greedy_node/try", headers=H, json={"text": ""}).status_code == 422
        assert c.post(f"/api/docs/{d}/nodes/greedy_node/try", headers=H, json={"text": "x" * 1001}).status_code == 422
        r = c.get(f"/api/docs/{d}/nodes/greedy_node/ports/table/attention", headers=H)
        assert r.status_code == 400 and "no attention maps" in r.json()["error"]
        assert c.post(f"/api/docs/{d}/nodes/greedy_node/try", json={"text": "x"}).status_code == 401  # token

        d2 = _open_and_run(c, tmp_path, small_lm(), "lm.json")
        gen = c.get(f"/api/docs/{d2}/nodes/generator/ports/table/table?limit=2", headers=H).json()
        gcols = [col["name"] for col in gen["columns"]]
        for row in gen["rows"]:  # each row's draws are its own (node seed + its seed text), as in the request
            seed_text, generated = row[gcols.index("text")], row[gcols.index("generated")]
            got = c.post(f"/api/docs/{d2}/nodes/generator/try", headers=H, json={"text": seed_text}).json()
            assert got["kind"] == "generated" and seed_text + got["output"] == generated  # include_seed: seed first
        short = c.post(f"/api/docs/{d2}/nodes/generator/try", headers=H, json={"text": "And", "length": 5}).json()
        assert len(short["output"].replace("<unk>", "?")) == 5  # 5 characters (an unknown one shows as <unk>)
        assert not c.get(f"/api/docs/{d2}", headers=H).json()["running"]  # nothing was re-run
