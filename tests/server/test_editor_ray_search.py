"""The Parameter Search dialog in the editor: a 'Scale out' tab whose Ray fields (address, max_concurrent,
resources per trial, ASHA's reduction factor) appear once backend is 'ray', and a saved file that carries them.
Screenshot: test-artifacts/editor-ray-search.png."""
from __future__ import annotations

import json
import os

import pytest

from tests.server.browser_util import ARTIFACTS, CHROMIUM, browser, node_dialog, ok_and_save  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
                       reason="Debian's chromium (/usr/bin/chromium) is not installed"),
]
RAY_FIELDS = ("address", "max_concurrent", "cpus_per_trial", "gpus_per_trial", "prune_reduction_factor")


def test_the_search_dialog_shows_the_ray_options_once_backend_is_ray(browser, tmp_path):  # noqa: F811
    with node_dialog(browser, tmp_path, "parameter_search.json", "search") as (page, _server):
        assert "Scale out" in page.locator(".dn-tabs button").all_inner_texts()
        page.click('.dn-tabs button:has-text("Scale out")')
        backend = page.locator('[id="f-backend"]')
        assert backend.locator("option").all_inner_texts() == ["local", "ray"]
        assert all(page.locator(f'[data-field="{n}"]').count() == 0 for n in RAY_FIELDS)  # only for ray
        backend.select_option("ray")
        page.wait_for_selector('[data-field="max_concurrent"]')
        assert all(page.locator(f'[data-field="{n}"]').count() == 1 for n in RAY_FIELDS)
        page.fill('[id="f-max_concurrent"]', "4")
        page.fill('[id="f-address"]', "auto")
        page.screenshot(path=str(ARTIFACTS / "editor-ray-search.png"))
        ok_and_save(page)
    saved = json.loads((tmp_path / "wf.json").read_text())
    cfg = next(n["config"] for n in saved["nodes"] if n["id"] == "search")
    assert (cfg["backend"], cfg["max_concurrent"], cfg["address"]) == ("ray", 4, "auto")
    assert cfg["body"]["nodes"]  # the body is kept as it was
