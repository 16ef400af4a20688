"""End-to-end tests of the editor in real headless Chromium (Debian's), driven by Playwright.

The server runs as `deepnodes serve` on a free port on 127.0.0.1, started and stopped by the tests.
Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.server.browser_util import ARTIFACTS, CHROMIUM, ROOT, STATIC_INDEX, Server, center, chromium, drag

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium (/usr/bin/chromium) is not installed"),
]

EXAMPLE = ROOT / "examples" / "image_classification.json"


@pytest.fixture(scope="module")
def built():
    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web` (cd web && npm ci && npm run build)"
    ARTIFACTS.mkdir(exist_ok=True)


@pytest.fixture
def server(tmp_path, built):
    s = Server(tmp_path).start()
    yield s
    s.stop()


def node_sel(nid: str) -> str:
    return f'.react-flow__node[data-id="{nid}"]'


def wait_state(page, nid: str, state: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(f'{node_sel(nid)} .dn-node[data-state="{state}"]', timeout=timeout)


def connect(page, src: str, sport: str, dst: str, dport: str) -> None:
    a = center(page, f'{node_sel(src)} .react-flow__handle.source[data-handleid="{sport}"]')
    b = center(page, f'{node_sel(dst)} .react-flow__handle.target[data-handleid="{dport}"]')
    drag(page, a, b)


def open_menu(page, nid: str, item: str) -> None:
    page.locator(f"{node_sel(nid)} .dn-node-box").click(button="right")
    page.locator(".dn-menu button", has_text=item).first.click()


def test_build_configure_execute_and_view_table(server):
    with chromium() as ctx:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector(".dn-palette-item")
        page.wait_for_selector('[data-testid="ws-status"]:has-text("live")')

        # the repository: grouped, searchable, with descriptions; drag two nodes onto the canvas
        page.fill('input[aria-label="search nodes"]', "dataset")
        assert page.locator(".dn-palette-item").count() >= 1
        page.hover('.dn-palette-item[data-type="deepnodes.data.DatasetReader"]')
        assert "built-in dataset" in page.inner_text(".dn-palette-desc")
        page.drag_and_drop('.dn-palette-item[data-type="deepnodes.data.DatasetReader"]', ".react-flow__pane",
                           target_position={"x": 250, "y": 200})
        page.fill('input[aria-label="search nodes"]', "row sampling")
        page.drag_and_drop('.dn-palette-item[data-type="deepnodes.data.RowSampling"]', ".react-flow__pane",
                           target_position={"x": 550, "y": 260})
        page.fill('input[aria-label="search nodes"]', "")
        page.wait_for_selector(node_sel("datasetreader1"))
        page.wait_for_selector(node_sel("rowsampling1"))
        assert page.locator(".react-flow__node").count() == 2

        # configure the reader through its dialog; a bad value is refused at its field
        page.locator(f"{node_sel('datasetreader1')} .dn-node-box").dblclick()
        page.wait_for_selector(".dn-config")
        page.select_option("#f-dataset", "digits")  # a drop-down filled from the dataset registry
        page.fill("#f-limit", "0")
        page.click('.dn-config button[type="submit"]')
        err = page.locator('.dn-field[data-field="limit"] .dn-error')
        err.wait_for()
        assert "greater than or equal to 1" in err.inner_text()
        page.fill("#f-limit", "300")
        page.click('.dn-config button[type="submit"]')
        page.wait_for_selector(".dn-config", state="detached")
        wait_state(page, "datasetreader1", "configured")

        # connect; a second connection into the same input is refused with the reason
        connect(page, "datasetreader1", "table", "rowsampling1", "table")
        page.wait_for_selector(".react-flow__edge", state="attached")  # (a level edge has no height: not "visible")
        wait_state(page, "rowsampling1", "configured")
        connect(page, "datasetreader1", "table", "rowsampling1", "table")
        toast = page.locator(".dn-toast.error").last
        toast.wait_for()
        assert "already connected" in toast.inner_text()
        assert page.locator(".react-flow__edge").count() == 1

        # the sampling dialog: enum, optional integer, and a column picker filled from the input's spec
        page.locator(f"{node_sel('rowsampling1')} .dn-node-box").dblclick()
        page.wait_for_selector(".dn-config")
        options = page.locator("#f-column option").all_inner_texts()
        assert any(o.startswith("class_name") for o in options) and any(o.startswith("label") for o in options)
        page.select_option("#f-method", "top")
        page.fill("#f-count", "25")
        page.screenshot(path=str(ARTIFACTS / "editor-config-dialog.png"))
        page.click('.dn-config button[type="submit"]')
        page.wait_for_selector(".dn-config", state="detached")

        # undo and redo of a move
        box = page.locator(f"{node_sel('rowsampling1')} .dn-node-box")
        before = box.bounding_box()
        drag(page, center(page, f"{node_sel('rowsampling1')} .dn-node-box"),
             (before["x"] + before["width"] / 2 + 80, before["y"] + before["height"] / 2 + 60))
        for _ in range(50):  # polled: the move shows at the next render, later on a busy machine
            moved = box.bounding_box()
            if moved["x"] > before["x"] + 40:
                break
            page.wait_for_timeout(100)
        assert moved["x"] > before["x"] + 40
        page.locator(".react-flow__pane").click(position={"x": 50, "y": 400})
        page.keyboard.press("Control+z")
        page.wait_for_function(f"() => Math.abs(document.querySelector('{node_sel('rowsampling1')} .dn-node-box')"
                               f".getBoundingClientRect().x - {before['x']}) < 3")
        page.keyboard.press("Control+Shift+z")
        page.wait_for_function(f"() => document.querySelector('{node_sel('rowsampling1')} .dn-node-box')"
                               f".getBoundingClientRect().x > {before['x'] + 40}")

        # execute all: the lights turn to executed
        page.click('[data-testid="execute-all"]')
        wait_state(page, "datasetreader1", "executed")
        wait_state(page, "rowsampling1", "executed")
        assert page.locator(f"{node_sel('rowsampling1')} .lamp.green.on").count() == 1
        page.screenshot(path=str(ARTIFACTS / "editor-executed.png"))

        # the table view: paged rows, column kinds, image thumbnails
        open_menu(page, "rowsampling1", "View: table")
        page.wait_for_selector(".dn-tableview tbody tr")
        assert page.locator(".dn-tableview tbody tr").count() == 25
        assert "rows 1–25 of 25" in page.inner_text(".dn-rowinfo")
        headers = page.locator(".dn-tableview thead th").all_inner_texts()
        assert any(h.startswith("image") and "tensor" in h for h in headers)
        assert page.locator(".dn-tableview img.dn-thumb").count() == 25
        first = page.locator(".dn-tableview tbody tr").first.inner_text()
        assert re.search(r"\b0\b", first)  # row id 0 of the first rows
        page.screenshot(path=str(ARTIFACTS / "editor-table-view.png"))
        page.keyboard.press("Escape")

        # copy, paste and delete: two more nodes appear with a connection, then go
        page.locator(f"{node_sel('datasetreader1')} .dn-node-box").click()
        page.locator(f"{node_sel('rowsampling1')} .dn-node-box").click(modifiers=["Shift"])
        page.keyboard.press("Control+c")
        page.keyboard.press("Control+v")
        page.wait_for_selector(node_sel("rowsampling2"))
        assert page.locator(".react-flow__edge").count() == 2
        page.keyboard.press("Delete")
        page.wait_for_selector(node_sel("rowsampling2"), state="detached")
        assert page.locator(".react-flow__node").count() == 2

        # save as a file in the workspace
        page.click("text=Save as…")
        page.fill('[data-testid="saveas-path"]', "sampled.json")
        page.click('.dn-saveas button[type="submit"]')
        page.wait_for_selector(".dn-saveas", state="detached")
        assert (server.workspace / "sampled.json").is_file()
        assert (server.workspace / "sampled.results" / "results.json").is_file()
        assert not errors, errors


def _learner_workflow(server: Server) -> str:
    """A copy of the image-classification example, or (until it exists) the same workflow built in Python."""
    if EXAMPLE.is_file():
        return "example"
    from tests.dl.dl_workflows import image_classification

    wf = image_classification("fashion-mnist")
    wf.save(server.workspace / "image_classification.json")
    return "workspace"


def _shrink(server: Server, doc: dict) -> None:
    """A small slice so the test runs in seconds on a busy CPU: the user-visible steps stay the same."""
    ops = []
    for n in doc["workflow"]["nodes"]:
        cfg = dict(n["config"])
        if n["type"] == "deepnodes.data.DatasetReader":
            cfg["limit"] = 2000 if cfg.get("split") != "test" else 500
        elif n["type"] == "deepnodes.dl.NetworkLearner":
            cfg.update(epochs=60, batch_size=64, metrics_interval=0.1)
        else:
            continue
        ops.append({"op": "config", "id": n["id"], "config": cfg})
    server.api("POST", f"/api/docs/{doc['id']}/edit", {"ops": ops})


@pytest.mark.slow
def test_image_classification_monitor_stop_and_confusion_matrix(server):
    where = _learner_workflow(server)
    with chromium() as ctx:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector(".dn-palette-item")
        page.click('[data-testid="open"]')
        page.wait_for_selector(".dn-open")
        if where == "example":
            page.click('.dn-open button[data-example="image_classification.json"]')
        else:
            page.click('.dn-open button[data-path="image_classification.json"]')
        page.wait_for_selector(".dn-open", state="detached")
        page.wait_for_selector(node_sel("learner"))
        doc = page.evaluate("() => window.__dn.doc")
        _shrink(server, doc)
        wait_state(page, "learner", "configured")
        page.screenshot(path=str(ARTIFACTS / "editor-example-open.png"))

        page.click('[data-testid="execute-all"]')
        wait_state(page, "learner", "executing", timeout=120_000)
        open_menu(page, "learner", "Learning monitor")
        mon = page.locator(".dn-monitor")
        page.wait_for_function("() => +document.querySelector('.dn-monitor').dataset.batchPoints > 2", timeout=120_000)
        n1 = int(mon.get_attribute("data-batch-points"))
        page.wait_for_function(f"() => +document.querySelector('.dn-monitor').dataset.batchPoints > {n1 + 3}",
                               timeout=120_000)
        page.wait_for_function("() => +document.querySelector('.dn-monitor').dataset.epochPoints >= 1", timeout=120_000)
        assert page.locator('[data-testid="chart-loss"] path').count() >= 2
        page.check("text=log scale")
        page.screenshot(path=str(ARTIFACTS / "editor-learning-monitor.png"))

        page.click('[data-testid="stop-learner"]')
        wait_state(page, "learner", "executed", timeout=120_000)
        n_epochs = int(mon.get_attribute("data-epoch-points"))
        assert 1 <= n_epochs < 60
        assert "stopped early" in page.inner_text(".dn-monitor-msg")
        page.screenshot(path=str(ARTIFACTS / "editor-learning-stopped.png"))
        page.keyboard.press("Escape")

        # the network is kept: the network view lists the layers with shapes and parameter counts
        open_menu(page, "learner", "View: network")
        page.wait_for_selector(".dn-networkview .dn-layers tbody tr")
        assert "Parameters" in page.inner_text(".dn-net-params")
        kinds = page.locator(".dn-layers tbody tr td:nth-child(3)").all_inner_texts()
        assert any("conv" in k.lower() for k in kinds) and any("dense" in k.lower() for k in kinds)
        page.screenshot(path=str(ARTIFACTS / "editor-network-view.png"))
        page.keyboard.press("Escape")

        # the run goes on to the executor and the scorer; read the confusion matrix
        wait_state(page, "scorer", "executed", timeout=120_000)
        open_menu(page, "scorer", "Scorer view")
        page.wait_for_selector('[data-testid="confusion-matrix"] td')
        cells = page.locator('[data-testid="confusion-matrix"] tbody td').all_inner_texts()
        assert len(cells) == 100
        total = sum(int(c.replace(",", "")) for c in cells)
        assert total == 500
        acc_text = page.inner_text(".dn-scalars")
        assert "accuracy" in acc_text
        page.screenshot(path=str(ARTIFACTS / "editor-confusion-matrix.png"))
        assert not errors, errors


@pytest.mark.slow
def test_page_reconnects_after_restart_and_tabs_agree(server):
    (server.workspace / "two.json").write_text(
        '{"format": "deepnodes.workflow/1", "name": "two", "nodes": [{"id": "r", "type": "deepnodes.data.DatasetReader",'
        ' "label": "Reader", "position": [0, 0], "config": {"dataset": "digits", "limit": 10}}], "connections": []}')
    with chromium() as ctx:
        a = ctx.new_page()
        b = ctx.new_page()
        for p in (a, b):
            p.goto(server.url + "&open=two.json")
            p.wait_for_selector(node_sel("r"))
            p.wait_for_selector('[data-testid="ws-status"]:has-text("live")')
        # a label edited in one tab shows in the other
        a.locator(f"{node_sel('r')} .dn-label").dblclick()
        a.fill(".dn-label-edit", "Digits")
        a.keyboard.press("Enter")
        b.wait_for_selector(f"{node_sel('r')} .dn-label:has-text('Digits')")
        # the server restarts (same port and token): both tabs come back live and reopen the workflow
        server.restart()
        for p in (a, b):
            p.wait_for_selector('[data-testid="ws-status"]:has-text("live")', timeout=30_000)
        a.click('[data-testid="execute-all"]')
        b.wait_for_selector(f'{node_sel("r")} .dn-node[data-state="executed"]', timeout=60_000)
        b.screenshot(path=str(ARTIFACTS / "editor-after-restart.png"))


def test_token_is_needed_by_the_page(server):
    with chromium() as ctx:
        page = ctx.new_page()
        page.goto(server.url.split("?")[0])
        page.wait_for_selector(".dn-toast.error, .dn-loading")
        page.wait_for_function("document.body.innerText.includes('token')", timeout=15_000)  # polled, not a sleep
