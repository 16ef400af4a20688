"""The editor's Deploy panel: the service command for the open workflow and its checks (Service Input/Output
connected, the results it needs executed and saved), from `GET /api/docs/{id}/deploy` (`service/deploy.py`)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deepnodes.core import Workflow
from deepnodes.service.deploy import deploy_report
from tests.server.browser_util import ARTIFACTS, STATIC_INDEX, Server, browser, tab  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from digits_service import build  # noqa: E402


def test_the_report_names_what_is_missing():
    wf = build()
    executed = {n: "executed" for n in wf.nodes}
    ok = deploy_report(wf, executed, "digits.json", dirty=False)
    assert ok["ready"] and ok["commands"]["serve"] == "deepnodes serve-workflow digits.json"
    untrained = deploy_report(wf, {**executed, "learner": "idle"}, "digits.json", dirty=False)
    assert not untrained["ready"] and any("'learner'" in c["text"] and not c["ok"] for c in untrained["checks"])
    assert not deploy_report(wf, executed, "digits.json", dirty=True)["ready"]
    unsaved = deploy_report(wf, executed, None, dirty=True)
    assert unsaved["commands"]["serve"] == "deepnodes serve-workflow WORKFLOW.json" and not unsaved["ready"]
    bare = Workflow("nothing to serve")
    r = deploy_report(bare, {}, "x.json", dirty=False)
    assert not r["ready"] and "Service Input" in r["checks"][0]["text"]
    spaced = deploy_report(wf, executed, "my flows/digits.json", dirty=False)
    assert spaced["commands"]["serve"] == "deepnodes serve-workflow 'my flows/digits.json'"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web` (cd web && npm ci && npm run build)"
    ws = tmp_path_factory.mktemp("deploy-ws")
    build().save(ws / "digits.json")
    r = subprocess.run([sys.executable, "-m", "deepnodes.cli", "run", str(ws / "digits.json"), "--save-results",
                        "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    s = Server(ws).start()
    yield s
    s.stop()


def test_deploy_panel_shows_the_command_and_the_checks(browser, server):
    with tab(browser, (1280, 800)) as page:
        page.goto(f"{server.url}&open=digits.json")
        page.wait_for_function("window.__dn && window.__dn.doc && window.__dn.doc.path === 'digits.json'")
        page.click('[data-testid="deploy"]')
        page.wait_for_selector('[data-testid="deploy-checks"] li')
        page.wait_for_selector('[data-testid="deploy-ready"].ok')
        assert page.inner_text('[data-testid="deploy-serve"]') == "deepnodes serve-workflow digits.json"
        checks = page.inner_text('[data-testid="deploy-checks"]')
        assert "✗" not in checks and "Service Input 'request'" in checks
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "deploy-panel-ready.png"))
        page.keyboard.press("Escape")
        page.click("text=New")  # a new, empty workflow: nothing to serve
        page.wait_for_function("window.__dn.doc && !window.__dn.doc.path && window.__dn.doc.workflow.nodes.length === 0")
        page.click('[data-testid="deploy"]')
        page.wait_for_selector('[data-testid="deploy-ready"].bad')
        checks = page.inner_text('[data-testid="deploy-checks"]')
        assert "exactly one Service Input" in checks and "save it" in checks
        page.screenshot(path=str(ARTIFACTS / "deploy-panel-not-ready.png"))
