"""Issue 9, "what users expect here": the editor's start page, the Learner's tabbed dialog, registry drop-downs,
shapes on the canvas, the network picture, the docked monitor, KNIME's keys, sortable tables, ranked search and
the small screen, in headless Chromium. One server and one browser serve the module; every test gets a fresh tab.
Screenshots: test-artifacts/editor-features-*.png.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.server.browser_util import (  # noqa: F401  (browser: the module's Chromium)
    ARTIFACTS, CHROMIUM, ROOT, STATIC_INDEX, Server, browser, center, drag, tab)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
                       reason="Debian's chromium (/usr/bin/chromium) is not installed"),
]

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
FLAGSHIP = ROOT / "examples" / "image_classification.json"


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"editor-features-{name}.png"))


def node_sel(nid: str) -> str:
    return f'.react-flow__node[data-id="{nid}"]'


def wait_state(page, nid: str, state: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(f'{node_sel(nid)} .dn-node[data-state="{state}"]', timeout=timeout)


def open_menu(page, nid: str, item: str) -> None:
    page.locator(f"{node_sel(nid)} .dn-node-box").click(button="right")
    page.locator(".dn-menu button", has_text=item).first.click()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web` (cd web && npm ci && npm run build)"
    ARTIFACTS.mkdir(exist_ok=True)
    ws = tmp_path_factory.mktemp("features-ws")
    s = Server(ws).start()
    yield s
    s.stop()


@pytest.fixture
def page(browser, request):
    with tab(browser, getattr(request, "param", (1400, 860))) as pg:
        yield pg


def fresh(page, server) -> None:
    page.goto(server.url)
    page.wait_for_selector(".dn-palette-item")
    page.wait_for_selector('[data-testid="ws-status"]:has-text("live")')


def open_flagship(page, server, copy_as: str | None = None) -> None:
    """Open the flagship example (or a copy of it in the workspace, so it can be saved) and wait for its edges."""
    if copy_as:
        shutil.copy(FLAGSHIP, server.workspace / copy_as)
        page.goto(server.url + f"&open={copy_as}")
    else:
        fresh(page, server)
        page.click('[data-testid="open"]')
        page.click('.dn-open button[data-example="image_classification.json"]')
    page.wait_for_selector(node_sel("learner"))
    n = len(json.loads(FLAGSHIP.read_text())["connections"])
    page.wait_for_function(f"() => document.querySelectorAll('.react-flow__edge').length === {n}")
    wait_state(page, "learner", "configured")


def config_dialog(page, nid: str):
    page.locator(f"{node_sel(nid)} .dn-node-box").dblclick()
    return page.wait_for_selector(".dn-config")


# ------------------------------------------------------------------------------------------ start page

def test_start_page_shows_every_example_and_opens_one_with_all_its_edges(page, server):
    fresh(page, server)
    page.wait_for_selector(".dn-start .dn-card")
    cards = page.locator(".dn-card")
    assert cards.count() == len(EXAMPLES)
    for f in EXAMPLES:
        data = json.loads(f.read_text())
        card = page.locator(f'.dn-card[data-example="{f.name}"]')
        assert card.locator(".dn-card-title").inner_text() == data["name"]
        assert card.locator(".dn-card-desc").inner_text() == data["description"]
        assert data["runtime"] in card.locator(".dn-card-meta").inner_text()
        assert card.locator("svg rect").count() == len(data["nodes"])  # the thumbnail draws the real graph
        assert card.locator("svg line").count() == len(data["connections"])
    shot(page, "start-page")

    page.click('.dn-card[data-example="image_classification.json"]')
    page.wait_for_selector(".dn-start", state="detached")
    n = len(json.loads(FLAGSHIP.read_text())["connections"])
    page.wait_for_function(f"() => document.querySelectorAll('.react-flow__edge').length === {n}")

    page.click('[data-testid="start-page"]')  # the logo brings it back; Escape closes it
    page.wait_for_selector(".dn-start .dn-card")
    page.keyboard.press("Escape")
    page.wait_for_selector(".dn-start", state="detached")

    # a workflow opened from the workspace is listed under "Recent workflows" and reopens from there
    shutil.copy(ROOT / "examples" / "python_network.json", server.workspace / "mine.json")
    page.goto(server.url + "&open=mine.json")
    page.wait_for_selector(node_sel("scorer"))
    page.click('[data-testid="start-page"]')
    page.wait_for_selector('.dn-start h2:has-text("Recent workflows")')
    page.click('.dn-recent button[data-path="mine.json"]')
    page.wait_for_selector(".dn-start", state="detached")
    page.wait_for_function("() => window.__dn.doc.path === 'mine.json'")


# ------------------------------------------------------------------------------------------ canvas

def test_build_by_drag_and_connect_shows_shapes_and_port_specs(page, server):
    fresh(page, server)
    page.wait_for_selector(".dn-start")
    page.fill('input[aria-label="search nodes"]', "input")
    first = page.locator(".dn-palette-item").first
    assert first.get_attribute("data-type") == "deepnodes.layers.Input"  # name matches first
    page.drag_and_drop('.dn-palette-item[data-type="deepnodes.layers.Input"]', ".react-flow__pane",
                       target_position={"x": 200, "y": 220})
    page.fill('input[aria-label="search nodes"]', "conv2d")
    page.drag_and_drop('.dn-palette-item[data-type="deepnodes.layers.Conv2D"]', ".react-flow__pane",
                       target_position={"x": 480, "y": 220})
    page.fill('input[aria-label="search nodes"]', "")
    assert page.locator(".dn-start").count() == 0  # reaching for the repository closed the start page
    page.wait_for_selector(node_sel("input1"))
    page.wait_for_selector(node_sel("conv2d1"))
    a = center(page, f'{node_sel("input1")} .react-flow__handle.source[data-handleid="network"]')
    b = center(page, f'{node_sel("conv2d1")} .react-flow__handle.target[data-handleid="input"]')
    drag(page, a, b)
    page.wait_for_function("() => document.querySelectorAll('.react-flow__edge').length === 1")
    wait_state(page, "conv2d1", "configured")
    # the Input layer's default shape and the convolution's output shape, on the nodes
    assert page.inner_text(f'{node_sel("input1")} .dn-node-shape') == "1×28×28"
    page.wait_for_function(f"() => document.querySelector('{node_sel('conv2d1')} .dn-node-shape')?.textContent === '32×26×26'")
    tip = page.get_attribute(f'{node_sel("conv2d1")} .react-flow__handle.source', "title")
    assert "outputs" in tip and "32×26×26" in tip
    tip_in = page.get_attribute(f'{node_sel("conv2d1")} .react-flow__handle.target', "title")
    assert "1×28×28" in tip_in
    assert page.get_attribute(f'{node_sel("conv2d1")} .dn-node-icon', "data-family") == "conv"
    shot(page, "drag-connect-shapes")


# ------------------------------------------------------------------------------------------ the Learner

def test_learner_dialog_tabs_pickers_conditions_and_a_run_to_the_confusion_matrix(page, server):
    open_flagship(page, server, copy_as="flagship.json")

    # the Dataset Readers' drop-downs come from the registry; a small slice keeps the run short
    for nid, limit in (("train_data", "600"), ("test_data", "2500")):
        config_dialog(page, nid)
        datasets = page.locator("#f-dataset option").all_inner_texts()
        assert {"fashion-mnist", "digits", "mnist"} <= set(datasets)
        assert page.locator("#f-split option").all_inner_texts() == ["train", "test", "all"]
        page.fill("#f-limit", limit)
        page.click('.dn-config button[type="submit"]')
        page.wait_for_selector(".dn-config", state="detached")

    config_dialog(page, "learner")
    tabs = page.locator(".dn-tabs button").all_inner_texts()
    assert tabs == ["General", "Optimizer", "Early stopping and schedule", "Distributed", "Advanced"]
    # General: the target is edited with pickers filled from the input table and the input network
    entry = page.locator('[data-entry="targets.0"]')
    cols = entry.locator('[data-field="targets.0.columns"] label').all_inner_texts()
    assert {"image", "label", "class_name"} <= {c.strip() for c in cols}
    assert entry.locator('[data-field="targets.0.columns"] input[type=checkbox]:checked').count() == 1
    assert "dense_1" in entry.locator('[data-field="targets.0.network_output"] option').all_inner_texts()
    assert "sparse_categorical_crossentropy" in entry.locator('[data-field="targets.0.loss"] option').all_inner_texts()
    assert entry.locator('[data-field="targets.0.huber_delta"]').count() == 0  # only for the Huber loss
    page.click(".dn-add")  # an input entry: its network_input picker lists the network's inputs
    assert "image" in page.locator('[data-field="inputs.0.network_input"] option').all_inner_texts()
    assert page.locator('[data-field="inputs.0.pad_value"]').count() == 0  # only for token sequences
    page.locator('[data-field="inputs.0.converter"] select').select_option("tokens")
    page.wait_for_selector('[data-field="inputs.0.pad_value"]')
    page.click('button[aria-label="remove inputs 1"]')
    assert "{" not in page.inner_text(".dn-config .dn-form")[:200]  # no raw JSON on the General tab
    shot(page, "learner-general")

    page.click('.dn-tabs button:has-text("Optimizer")')
    assert page.locator('[data-field="beta_1"]').count() == 1 and page.locator('[data-field="momentum"]').count() == 0
    page.select_option("#f-optimizer", "sgd")
    page.wait_for_selector('[data-field="momentum"]')
    assert page.locator('[data-field="nesterov"]').count() == 1 and page.locator('[data-field="beta_1"]').count() == 0
    shot(page, "learner-optimizer-sgd")
    page.select_option("#f-optimizer", "adam")

    page.click('.dn-tabs button:has-text("Early stopping")')
    assert page.locator('[data-field="patience"]').count() == 0
    page.check("#f-early_stopping")
    page.wait_for_selector('[data-field="patience"]')
    assert page.locator("#f-monitor").evaluate("e => e.tagName") == "SELECT"
    page.uncheck("#f-early_stopping")

    page.click('.dn-tabs button:has-text("Advanced")')
    raw = json.loads(page.input_value("#f-raw-json"))
    stored = next(n for n in json.loads(FLAGSHIP.read_text())["nodes"] if n["id"] == "learner")["config"]
    assert raw["epochs"] == stored["epochs"] and raw["targets"][0]["columns"] == ["class_name"]

    page.click('.dn-tabs button:has-text("General")')
    page.fill("#f-epochs", "1")
    page.click('.dn-config button[type="submit"]')
    page.wait_for_selector(".dn-config", state="detached")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => window.__dn.doc && !window.__dn.doc.dirty")
    saved = json.loads((server.workspace / "flagship.json").read_text())
    learner = next(n for n in saved["nodes"] if n["id"] == "learner")
    assert learner["config"]["epochs"] == 1 and "inputs" not in learner["config"]

    # run everything with Shift+F7; the monitor docks beside the canvas with the validation curves
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    page.keyboard.press("Shift+F7")
    wait_state(page, "learner", "executing", timeout=120_000)
    open_menu(page, "learner", "Learning monitor")
    dock = page.wait_for_selector(".dn-viewwin.docked")
    canvas = page.locator(".dn-canvas").bounding_box()
    assert canvas["x"] + canvas["width"] <= dock.bounding_box()["x"] + 1  # beside the canvas, not over it
    wait_state(page, "learner", "executed", timeout=180_000)
    page.wait_for_function("() => +document.querySelector('.dn-monitor').dataset.epochPoints >= 1")
    legends = " ".join(page.locator(".dn-legend").all_inner_texts())
    assert "val_loss" in legends and "val_accuracy" in legends
    shot(page, "docked-monitor")

    wait_state(page, "scorer", "executed", timeout=120_000)
    open_menu(page, "scorer", "Scorer view")
    page.wait_for_selector('[data-testid="confusion-matrix"] td')
    rows = page.locator('[data-testid="confusion-matrix"] tbody tr').count()
    assert rows == 10
    total = sum(int(c) for c in page.locator('[data-testid="confusion-matrix"] tbody td').all_inner_texts() if c.strip().isdigit())
    assert total == 2500
    shot(page, "confusion-matrix")


# ------------------------------------------------------------------------------------------ keys, views

def test_knime_keys_configure_execute_cancel_select_all_and_escape(page, server):
    open_flagship(page, server)
    n = page.locator(".react-flow__node").count()
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    page.keyboard.press("Control+a")
    page.wait_for_function(f"() => document.querySelectorAll('.react-flow__node.selected').length === {n}")

    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})  # clear the selection
    page.locator(f'{node_sel("input")} .dn-node-box').click()
    page.keyboard.press("F6")
    page.wait_for_selector('.dn-config[aria-label="Configure Input 1×28×28"]')
    page.keyboard.press("Escape")
    page.wait_for_selector(".dn-config", state="detached")

    page.locator(f'{node_sel("input")} .dn-node-box').click()
    page.keyboard.press("F7")  # execute the selected node only
    wait_state(page, "input", "executed")
    assert page.locator(f'{node_sel("learner")} .dn-node[data-state="configured"]').count() == 1

    page.keyboard.press("Shift+F7")  # everything; F9 cancels before the learner can finish
    page.wait_for_function("() => window.__dn.doc.running")
    page.keyboard.press("F9")
    page.wait_for_function("() => !window.__dn.doc.running", timeout=120_000)
    assert page.locator(f'{node_sel("learner")} .dn-node[data-state="executed"]').count() == 0

    page.click('[data-testid="open"]')  # Escape closes the file dialogs and views too
    page.wait_for_selector(".dn-open")
    page.keyboard.press("Escape")
    page.wait_for_selector(".dn-open", state="detached")
    open_menu(page, "learner", "Messages and log")
    page.wait_for_selector(".dn-viewwin")
    page.keyboard.press("Escape")
    page.wait_for_selector(".dn-viewwin", state="detached")


def test_network_picture_and_sortable_table(page, server):
    open_flagship(page, server)
    open_menu(page, "dense", "View: network")
    page.wait_for_selector(".dn-netgraph .dn-netbox")
    layers = page.locator(".dn-layers tbody tr").count()
    assert page.locator(".dn-netgraph .dn-netbox").count() == layers == 8
    assert page.locator(".dn-netgraph .dn-netlink").count() == layers - 1
    assert "32×26×26" in page.locator(".dn-netbox", has_text="Conv2D").first.text_content()
    shot(page, "network-picture")
    page.keyboard.press("Escape")

    config_dialog(page, "test_data")
    page.select_option("#f-dataset", "digits")
    page.select_option("#f-split", "all")
    page.fill("#f-limit", "40")
    page.click('.dn-config button[type="submit"]')
    page.wait_for_selector(".dn-config", state="detached")
    page.locator(f'{node_sel("test_data")} .dn-node-box').click()
    page.keyboard.press("F7")
    wait_state(page, "test_data", "executed")
    open_menu(page, "test_data", "View: table")
    page.wait_for_selector(".dn-tableview tbody tr")
    col = page.locator(".dn-table thead th").all_inner_texts()
    idx = next(i for i, t in enumerate(col) if t.startswith("label"))

    def labels():
        return [int(x) for x in page.locator(f".dn-table tbody tr td:nth-child({idx + 1})").all_inner_texts()]

    stored = labels()
    page.click('.dn-table th[data-column="label"]')
    page.wait_for_function("() => document.querySelector('th[data-column=\"label\"]').getAttribute('aria-sort') === 'ascending'")
    page.wait_for_function(f"() => [...document.querySelectorAll('.dn-table tbody tr td:nth-child({idx + 1})')].map(t => +t.textContent).join() === '{','.join(map(str, sorted(stored)))}'")
    page.click('.dn-table th[data-column="label"]')
    page.wait_for_function(f"() => [...document.querySelectorAll('.dn-table tbody tr td:nth-child({idx + 1})')].map(t => +t.textContent).join() === '{','.join(map(str, sorted(stored, reverse=True)))}'")
    assert page.locator('.dn-table th[data-column="image"]').get_attribute("class") != "sortable"  # tensors have no order
    shot(page, "table-sorted")


@pytest.mark.parametrize("page", [(1024, 700)], indirect=True)
def test_small_screen_keeps_one_toolbar_row_a_small_minimap_and_a_useful_repository(page, server):
    open_flagship(page, server)
    bar = page.locator(".dn-toolbar").bounding_box()
    assert bar["height"] < 48, "the toolbar wrapped"
    middles = {round(b["y"] + b["height"] / 2) for b in (el.bounding_box() for el in page.locator(".dn-toolbar > button").all()) if b}
    assert max(middles) - min(middles) <= 2, "the toolbar's buttons are not on one row"
    name = page.locator('input[aria-label="workflow name"]').bounding_box()
    box = page.locator(".dn-docname").bounding_box()
    assert name["width"] >= 60 and name["x"] + name["width"] <= min(1024, box["x"] + box["width"]) + 1, "the name is cut"
    mini = page.locator(".react-flow__minimap svg").bounding_box()
    assert mini["width"] <= 121 and mini["height"] <= 81
    lst = page.locator(".dn-palette-list").bounding_box()
    shown = [b for b in (el.bounding_box() for el in page.locator(".dn-palette-item").all()) if b
             and b["y"] >= lst["y"] and b["y"] + b["height"] <= lst["y"] + lst["height"]]
    assert len(shown) >= 14, f"the repository shows only {len(shown)} nodes at 1024×700"
    shot(page, "1024x700")


OVERLAPS = """
() => {
  const boxes = [...document.querySelectorAll('.react-flow__node')].flatMap((n) =>
    [...n.querySelectorAll('.dn-node-type, .dn-node-box, .dn-label')].map((e) => ({ id: n.dataset.id, r: e.getBoundingClientRect() })));
  const out = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.id === b.id) continue;
    const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
    const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
    if (w > 1 && h > 1) out.push(a.id + ' / ' + b.id);
  }
  return out;
}
"""


def test_example_layouts_keep_every_title_and_label_apart(page, server):
    fresh(page, server)
    for f in EXAMPLES:
        page.click('[data-testid="open"]')
        page.click(f'.dn-open button[data-example="{f.name}"]')
        page.wait_for_selector(".dn-open", state="detached")
        data = json.loads(f.read_text())
        page.wait_for_function(f"() => window.__dn.doc && window.__dn.doc.workflow.name === {json.dumps(data['name'])}"
                               f" && document.querySelectorAll('.react-flow__node').length === {len(data['nodes'])}")
        page.wait_for_timeout(300)
        clashes = page.evaluate(OVERLAPS)
        assert not clashes, f"{f.name}: titles or labels overlap: {clashes[:5]}"
