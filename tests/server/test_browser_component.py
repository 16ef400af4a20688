"""Make component in the editor: select nodes, click "Make component", and they become one Component whose
ports are the connections that crossed its edge (drawn on the canvas, saved in the file); Undo brings the nodes
back. Screenshot: test-artifacts/editor-make-component.png."""
from __future__ import annotations

import json
import os

import pytest

from deepnodes.core import Workflow
from tests.server.browser_util import ARTIFACTS, CHROMIUM, STATIC_INDEX, Server, browser, center, tab  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
                       reason="Debian's chromium (/usr/bin/chromium) is not installed"),
]


def chain(path) -> None:
    wf = Workflow("chain")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"}, position=(0, 0))
    wf.add("deepnodes.data.RowFilter", "small", {"column": "label", "operator": "<", "value": "5"}, position=(260, 0))
    wf.add("deepnodes.data.RowSampling", "samp", {"fraction": 0.5, "seed": 3}, position=(520, 0))
    wf.add("deepnodes.data.Partitioning", "part", {"fraction": 0.7}, position=(780, 0))
    wf.connect("digits", "table", "small", "table")
    wf.connect("small", "table", "samp", "table")
    wf.connect("samp", "table", "part", "table")
    wf.save(path)


def node(nid: str) -> str:
    return f'.react-flow__node[data-id="{nid}"]'


def test_selected_nodes_become_a_component_with_ports_and_undo_brings_them_back(browser, tmp_path):  # noqa: F811
    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web`"
    ARTIFACTS.mkdir(exist_ok=True)
    chain(tmp_path / "wf.json")
    server = Server(tmp_path).start()
    try:
        with tab(browser) as page:
            page.goto(server.url + "&open=wf.json")
            page.wait_for_selector(f'{node("part")} .dn-node[data-state="configured"]', timeout=60_000)
            page.mouse.click(*center(page, f'{node("small")} .dn-node-box'))
            page.locator(f'{node("samp")} .dn-node-box').click(modifiers=["Shift"])
            page.click('[data-testid="make-component"]')
            page.wait_for_selector(f'{node("component1")} .dn-node[data-state="configured"]', timeout=30_000)
            assert page.locator(node("small")).count() == 0 and page.locator(node("samp")).count() == 0
            # its ports are drawn, and both crossing connections are edges again
            assert page.locator(f'{node("component1")} .react-flow__handle').count() == 2
            assert page.locator(".react-flow__edge").count() == 2
            page.screenshot(path=str(ARTIFACTS / "editor-make-component.png"))
            page.keyboard.press("Control+s")
            page.wait_for_function("() => !document.title.includes(' * ')", timeout=15_000)
            saved = json.loads((tmp_path / "wf.json").read_text())
            comp = next(n for n in saved["nodes"] if n["id"] == "component1")
            assert sorted(n["id"] for n in comp["config"]["body"]["nodes"]) == ["in_table", "out_table", "samp", "small"]
            assert {(c["source"], c["target"]) for c in saved["connections"]} == {("digits", "component1"),
                                                                                 ("component1", "part")}
            page.keyboard.press("Control+z")
            page.wait_for_selector(f'{node("small")} .dn-node[data-state="configured"]', timeout=30_000)
            assert page.locator(node("component1")).count() == 0 and page.locator(".react-flow__edge").count() == 3
    finally:
        server.stop()


def test_a_component_opens_in_place_edits_go_into_its_body_and_the_breadcrumb_leads_back(browser, tmp_path):  # noqa: F811
    from tests.flow.flow_bodies import sampling_body

    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web`"
    ARTIFACTS.mkdir(exist_ok=True)
    wf = Workflow("outer")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"}, position=(0, 0))
    body = sampling_body()
    for i, n in enumerate(body["nodes"]):
        n["position"] = [260 * i, 0]
    wf.add("deepnodes.flow.Component", "comp", {"body": body}, label="Small digits", position=(300, 0))
    wf.connect("digits", "table", "comp", "table")
    wf.save(tmp_path / "wf.json")
    server = Server(tmp_path).start()
    try:
        with tab(browser) as page:
            page.goto(server.url + "&open=wf.json")
            page.wait_for_selector(f'{node("comp")} .dn-node[data-state="configured"]', timeout=60_000)
            page.mouse.click(*center(page, f'{node("comp")} .dn-node-box'))
            page.click('[data-testid="open-component"]')
            page.wait_for_selector(node("samp"), timeout=15_000)
            assert page.locator(node("digits")).count() == 0
            assert page.locator(".react-flow__node").count() == 4 and page.locator(".react-flow__edge").count() == 3
            crumb = page.locator('[data-testid="breadcrumb"]').inner_text()
            assert "outer" in crumb and "Small digits" in crumb
            page.screenshot(path=str(ARTIFACTS / "editor-open-component.png"))
            # an edit inside: delete the sampling node; the body loses it, the outer workflow keeps its nodes
            page.mouse.click(*center(page, f'{node("samp")} .dn-node-box'))
            page.keyboard.press("Delete")
            page.wait_for_selector(node("samp"), state="detached", timeout=15_000)
            page.click('[data-testid="crumb-0"]')
            page.wait_for_selector(node("digits"), timeout=15_000)
            assert page.locator('[data-testid="breadcrumb"]').count() == 0
            page.keyboard.press("Control+s")
            page.wait_for_function("() => !document.title.includes(' * ')", timeout=15_000)
    finally:
        server.stop()
    saved = json.loads((tmp_path / "wf.json").read_text())
    assert sorted(n["id"] for n in saved["nodes"]) == ["comp", "digits"]
    comp = next(n for n in saved["nodes"] if n["id"] == "comp")
    assert sorted(n["id"] for n in comp["config"]["body"]["nodes"]) == ["in", "out", "small"]


def test_apply_best_from_a_searchs_menu_writes_the_best_value_into_its_body(browser, tmp_path):  # noqa: F811
    from tests.flow.flow_bodies import holdout_body

    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web`"
    ARTIFACTS.mkdir(exist_ok=True)
    wf = Workflow("search")
    wf.add("deepnodes.data.DatasetReader", "digits", {"dataset": "digits"}, position=(0, 0))
    wf.add("deepnodes.flow.ParameterSearch", "search", {
        "body": holdout_body(), "objective": "scorer.accuracy", "strategy": "grid",
        "space": {"lr": {"option": "learner.learning_rate", "kind": "choice", "choices": [0.0003, 0.03]}}},
        position=(300, 0))
    wf.connect("digits", "table", "search", "table")
    wf.save(tmp_path / "wf.json")
    server = Server(tmp_path).start()
    try:
        with tab(browser) as page:
            page.goto(server.url + "&open=wf.json")
            page.wait_for_selector(f'{node("search")} .dn-node[data-state="configured"]', timeout=60_000)
            page.keyboard.press("Shift+F7")
            page.wait_for_selector(f'{node("search")} .dn-node[data-state="executed"]', timeout=180_000)
            page.locator(f'{node("search")} .dn-node-box').click(button="right")
            menu = page.locator(".dn-menu").inner_text()
            assert "View: trials" in menu and "View: best" in menu  # the search's own ports, not its class's
            page.click('[data-testid="apply-best"]')
            page.wait_for_selector('.dn-toast:has-text("applied: search/learner.learning_rate")', timeout=15_000)
            page.screenshot(path=str(ARTIFACTS / "editor-apply-best.png"))
            page.keyboard.press("Control+s")
            page.wait_for_function("() => !document.title.includes(' * ')", timeout=15_000)
    finally:
        server.stop()
    saved = json.loads((tmp_path / "wf.json").read_text())
    body = next(n for n in saved["nodes"] if n["id"] == "search")["config"]["body"]
    assert next(n for n in body["nodes"] if n["id"] == "learner")["config"]["learning_rate"] in (0.0003, 0.03)
