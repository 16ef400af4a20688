"""The Network Learner's `distributed` option group in the editor: its own tab, a sub-form (not raw JSON) whose
Ray fields appear once backend is 'ray', and a saved file that carries the nested values. Screenshot:
test-artifacts/editor-distributed-learner.png."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.server.browser_util import ARTIFACTS, CHROMIUM, ROOT, STATIC_INDEX, Server, browser, tab  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
                       reason="Debian's chromium (/usr/bin/chromium) is not installed"),
]


def test_the_learner_dialog_edits_the_distributed_group_as_a_sub_form(browser, tmp_path):  # noqa: F811
    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web`"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(ROOT / "examples" / "image_classification.json", tmp_path / "wf.json")
    server = Server(tmp_path).start()
    try:
        with tab(browser, (1400, 900)) as page:
            page.goto(server.url + "&open=wf.json")
            learner = '.react-flow__node[data-id="learner"]'
            page.wait_for_selector(f'{learner} .dn-node[data-state="configured"]', timeout=60_000)
            page.locator(f"{learner} .dn-node-box").dblclick()
            page.wait_for_selector(".dn-config")
            assert "Distributed" in page.locator(".dn-tabs button").all_inner_texts()
            page.click('.dn-tabs button:has-text("Distributed")')
            backend = page.locator('[id="f-distributed.backend"]')
            assert backend.locator("option").all_inner_texts() == ["none", "ray"]
            assert page.locator('[data-field="distributed.workers"]').count() == 0  # only for ray
            backend.select_option("ray")
            page.wait_for_selector('[data-field="distributed.workers"]')
            for name in ("use_gpu", "address", "max_failures", "checkpoint_folder"):
                assert page.locator(f'[data-field="distributed.{name}"]').count() == 1
            page.fill('[id="f-distributed.workers"]', "4")
            page.fill('[id="f-distributed.address"]', "ray://head:10001")
            page.screenshot(path=str(ARTIFACTS / "editor-distributed-learner.png"))
            page.click('.dn-config button:has-text("OK")')
            page.wait_for_selector(".dn-config", state="detached")
            page.wait_for_function("() => document.title.includes(' * ')", timeout=15_000)  # an unsaved edit
            page.keyboard.press("Control+s")
            page.wait_for_function("() => !document.title.includes(' * ')", timeout=15_000)
        saved = json.loads((tmp_path / "wf.json").read_text())
        cfg = next(n["config"] for n in saved["nodes"] if n["id"] == "learner")
        assert cfg["distributed"] == {"backend": "ray", "workers": 4, "address": "ray://head:10001"}
    finally:
        server.stop()
