"""Issue 9: the editor from a fresh page to a trained, saved model, each bug a test in headless Chromium.

One server (started as `deepnodes serve WORKFLOW`) and one browser serve the whole module; screenshots go to
test-artifacts/editor-bugs-*.png.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.server.browser_util import ARTIFACTS, CHROMIUM, ROOT, STATIC_INDEX, Server, browser  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
                       reason="Debian's chromium (/usr/bin/chromium) is not installed"),
]

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
FLAGSHIP = "image_classification.json"


def connections(path: Path) -> int:
    return len(json.loads(path.read_text())["connections"])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web` (cd web && npm ci && npm run build)"
    ws = tmp_path_factory.mktemp("editor-ws")
    for f in EXAMPLES:
        shutil.copy(f, ws / f.name)
    s = Server(ws, workflow=ws / FLAGSHIP).start()
    yield s
    s.stop()


@pytest.fixture
def page(browser, request):
    """A fresh tab (its own local storage) at 1400×860, or at the width a test asks for with `@pytest.mark.parametrize`."""
    width = getattr(request, "param", 1400)
    ctx = browser.new_context(viewport={"width": width, "height": 860 if width > 1024 else 700})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"editor-bugs-{name}.png"))


def doc_id(page) -> str:
    return page.evaluate("window.__dn.doc && window.__dn.doc.id")


def wait_drawn(page, previous_doc: str | None = None) -> None:
    """Waits until a document other than `previous_doc` is fitted into view and its nodes are on screen."""
    page.wait_for_function(
        "prev => window.__dn && window.__dn.rendered && window.__dn.doc && window.__dn.rendered.doc === window.__dn.doc.id"
        " && window.__dn.doc.id !== prev", arg=previous_doc, timeout=30_000)


def drawn_edges(page, expected: int) -> int:
    """The edges React Flow has drawn (a path with a shape), once the view has settled: waits up to 5 s for
    `expected`, then counts."""
    js = "() => [...document.querySelectorAll('.react-flow__edge path.react-flow__edge-path')]" \
         ".filter(p => (p.getAttribute('d') || '').length > 10 && !p.getAttribute('d').includes('NaN')).length"
    try:
        page.wait_for_function(f"n => ({js})() === n", arg=expected, timeout=5_000)
    except Exception:
        pass
    page.wait_for_timeout(150)  # edges drawn and then lost (a late re-measure) count as lost
    return page.evaluate(js)


# ---------------------------------------------------------------------------------------------- bug 1
def test_serve_argument_and_reload_draw_every_edge(server, page):
    """`deepnodes serve WORKFLOW` opens the flagship with all its edges; so does a reload of every example."""
    page.goto(server.printed_url)
    wait_drawn(page)
    assert page.evaluate("window.__dn.doc.path") == FLAGSHIP
    want = connections(ROOT / "examples" / FLAGSHIP)
    assert drawn_edges(page, want) == want
    shot(page, "serve-argument")
    for f in EXAMPLES:
        page.goto(f"{server.url}&open={f.name}")
        wait_drawn(page)
        assert drawn_edges(page, connections(f)) == connections(f), f"{f.name} opened by address"
        prev = doc_id(page)
        page.reload()
        wait_drawn(page)
        assert drawn_edges(page, connections(f)) == connections(f), f"{f.name} after a reload"
    assert not page.errors, page.errors


@pytest.mark.parametrize("page", [1400, 1024], indirect=True, ids=["1400px", "1024px"])
def test_open_dialog_draws_every_edge_of_each_example_in_one_tab(server, page):
    """Every example opened by Open… one after another in the same tab (ids reused across workflows)."""
    page.goto(server.url)
    wait_drawn(page)
    for f in EXAMPLES:
        prev = doc_id(page)
        page.click('[data-testid="open"]')
        page.click(f'.dn-open button[data-example="{f.name}"]')
        wait_drawn(page, prev)
        got = drawn_edges(page, connections(f))
        if got != connections(f):
            shot(page, f"open-{f.stem}-{page.viewport_size['width']}")
        assert got == connections(f), f"{f.name} opened by Open… at {page.viewport_size['width']} px"
    shot(page, f"open-dialog-last-{page.viewport_size['width']}")
    # and the flagship, reloaded at this width
    page.goto(f"{server.url}&open={FLAGSHIP}")
    wait_drawn(page)
    page.reload()
    wait_drawn(page)
    want = connections(ROOT / "examples" / FLAGSHIP)
    assert drawn_edges(page, want) == want, f"{FLAGSHIP} reloaded at {page.viewport_size['width']} px"
    assert not page.errors, page.errors


def _random_workflow(rng, n: int) -> dict:
    """A random table DAG: readers, samplers, filters and two-output partitionings, ids partly shared between
    workflows (as `reader`, `sample3`), so a second workflow reuses node ids of the first with other ports."""
    kinds = [("deepnodes.data.RowSampling", ["table"]), ("deepnodes.data.ColumnFilter", ["table"]),
             ("deepnodes.data.Partitioning", ["first", "second"])]
    nodes = [{"id": "reader", "type": "deepnodes.data.DatasetReader", "label": "Reader", "position": [0, 0],
              "config": {"dataset": "digits", "limit": 10}}]
    outs = {"reader": ["table"]}
    conns = []
    for i in range(1, n):
        t, ports = kinds[rng.randrange(len(kinds))]
        nid = f"n{i}" if rng.random() < 0.5 else f"{t.rsplit('.', 1)[1].lower()}{i}"
        src = nodes[rng.randrange(len(nodes))]["id"]
        nodes.append({"id": nid, "type": t, "label": nid, "position": [170 * (i % 8), 120 * (i // 8)], "config": {}})
        outs[nid] = ports
        conns.append({"source": src, "source_port": rng.choice(outs[src]), "target": nid, "target_port": "table"})
    return {"format": "deepnodes.workflow/1", "name": f"random {n}", "nodes": nodes, "connections": conns}


def test_random_workflows_one_after_another_draw_every_edge(server, page):
    """The class behind bug 1: any workflow, opened after any other in the same tab, draws all its edges."""
    import random

    page.goto(server.url)
    wait_drawn(page)
    for seed in range(6):
        rng = random.Random(seed)
        wf = _random_workflow(rng, rng.randrange(2, 40))
        name = f"random-{seed}.json"
        (server.workspace / name).write_text(json.dumps(wf))
        prev = doc_id(page)
        page.click('[data-testid="open"]')
        page.click(f'.dn-open button[data-path="{name}"]')
        wait_drawn(page, prev)
        assert drawn_edges(page, len(wf["connections"])) == len(wf["connections"]), f"seed {seed}"
    assert not page.errors, page.errors


# ---------------------------------------------------------------------------------------------- helpers for dialogs
def node_sel(nid: str) -> str:
    return f'.react-flow__node[data-id="{nid}"]'


def open_copy(server, page, example: str, name: str) -> Path:
    """A copy of an example in the workspace, opened by address; returns its path."""
    dst = server.workspace / name
    shutil.copy(ROOT / "examples" / example, dst)
    page.goto(f"{server.url}&open={name}")
    wait_drawn(page)
    page.wait_for_selector('[data-testid="ws-status"]:has-text("live")')
    return dst


def configure(page, nid: str) -> None:
    page.locator(f"{node_sel(nid)} .dn-node-box").dblclick()
    page.wait_for_selector(".dn-config")


def save_and_read(page, path: Path) -> dict:
    page.keyboard.press("Control+s")
    page.wait_for_function("() => window.__dn.doc && !window.__dn.doc.dirty", timeout=15_000)
    return json.loads(path.read_text())


def node_config(wf: dict, nid: str) -> dict:
    return next(n for n in wf["nodes"] if n["id"] == nid)["config"]


# ---------------------------------------------------------------------------------------------- bug 2
def test_learner_dialog_ok_applies_and_the_saved_file_holds_the_value(server, page):
    path = open_copy(server, page, FLAGSHIP, "bug2-learner.json")
    configure(page, "learner")
    # two bad values on two tabs: the dialog stays, lists both at the top and shows the first bad field
    page.locator(".dn-config .dn-tabs button", has_text="Optimizer").click()
    page.fill("#f-weight_decay", "-1")
    page.locator(".dn-config .dn-tabs button", has_text="General").click()
    page.fill("#f-epochs", "0")
    page.locator(".dn-config .dn-tabs button", has_text="Advanced").click()
    page.click('.dn-config button[type="submit"]')
    top = page.locator(".dn-config .dn-error.general")
    top.wait_for()
    assert "epochs" in top.inner_text() and "weight_decay" in top.inner_text(), top.inner_text()
    first = page.locator('.dn-config .dn-field.has-error, .dn-config [data-field].has-error').first
    first.wait_for()
    for _ in range(50):  # in view once the tab's render is done; polled, so a slow machine is no failure
        box, dialog = first.bounding_box(), page.locator(".dn-config").bounding_box()
        if box and dialog and box["y"] >= dialog["y"] and box["y"] + box["height"] <= dialog["y"] + dialog["height"]:
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"the first bad field is not scrolled into view: {box} in {dialog}")
    shot(page, "learner-errors")
    page.locator(".dn-config .dn-tabs button", has_text="Optimizer").click()
    page.fill("#f-weight_decay", "0")
    page.locator(".dn-config .dn-tabs button", has_text="General").click()
    # a good value: OK closes the dialog (the empty `inputs` field means its default, not null)
    page.fill("#f-epochs", "3")
    page.click('.dn-config button[type="submit"]')
    page.wait_for_selector(".dn-config", state="detached", timeout=10_000)
    shot(page, "learner-ok")
    assert node_config(save_and_read(page, path), "learner")["epochs"] == 3
    assert not page.errors, page.errors


# ---------------------------------------------------------------------------------------------- bug 3
def test_fresh_input_layer_shows_its_default_shape(server, page):
    (server.workspace / "bug3-empty.json").write_text(
        '{"format": "deepnodes.workflow/1", "name": "empty", "nodes": [], "connections": []}')
    page.goto(f"{server.url}&open=bug3-empty.json")
    wait_drawn(page)
    page.fill('input[aria-label="search nodes"]', "input layer")
    page.drag_and_drop('.dn-palette-item[data-type="deepnodes.layers.Input"]', ".react-flow__pane",
                       target_position={"x": 300, "y": 200})
    page.wait_for_selector(node_sel("input1"))
    configure(page, "input1")
    shape = page.input_value("#f-shape")
    assert [int(x) for x in shape.replace(",", " ").replace("[", " ").replace("]", " ").split()] == [1, 28, 28], shape
    shot(page, "input-layer-default")


# ---------------------------------------------------------------------------------------------- bug 7
def test_image_to_tensor_takes_a_new_column_name(server, page):
    path = open_copy(server, page, "fashion_mnist_prep.json", "bug7-prep.json")
    configure(page, "to_tensor")
    # the dialog's description is the node's whole first paragraph, not its first source line
    desc = next(n for n in server.api("GET", "/api/nodes")["nodes"] if n["type"] == "deepnodes.data.ImageToTensor")
    first = " ".join(desc["description"].split("\n\n")[0].split())
    assert " ".join(page.inner_text(".dn-config .dn-desc").split()) == first
    field = page.locator("#f-output_column")
    assert field.evaluate("e => e.tagName") == "INPUT", "a new column's name must be typed, not picked"
    field.fill("pixels")
    page.click('.dn-config button[type="submit"]')
    page.wait_for_selector(".dn-config", state="detached", timeout=10_000)
    page.wait_for_function("() => (window.__dn.doc.status.to_tensor.specs[0] || {columns: []}).columns"
                           ".some(c => c.name === 'pixels')", timeout=15_000)
    assert node_config(save_and_read(page, path), "to_tensor")["output_column"] == "pixels"
    # an option that reads a column still picks from the input's columns
    configure(page, "to_tensor")
    assert page.locator("#f-column").evaluate("e => e.tagName") == "SELECT"
    shot(page, "image-to-tensor-new-column")


# ---------------------------------------------------------------------------------------------- bugs 4 and 8
def _sliced_flagship(server, name: str) -> None:
    """The flagship on a slice (256 training and 64 test images, 3 epochs of 8 batches): seconds on a busy CPU."""
    wf = json.loads((ROOT / "examples" / FLAGSHIP).read_text())
    for n in wf["nodes"]:
        if n["type"] == "deepnodes.data.DatasetReader":
            n["config"]["limit"] = 64 if n["config"].get("split") == "test" else 256
        elif n["type"] == "deepnodes.dl.NetworkLearner":
            n["config"].update(epochs=3, batch_size=32, metrics_interval=0.05, validation_batch_size=64)
    (server.workspace / name).write_text(json.dumps(wf))


def test_run_flagship_slice_lamps_progress_monitor_counts_and_confusion_matrix(server, page):
    _sliced_flagship(server, "bug4-run.json")
    page.goto(f"{server.url}&open=bug4-run.json")
    wait_drawn(page)
    page.wait_for_selector('[data-testid="ws-status"]:has-text("live")')
    page.click('[data-testid="execute-all"]')
    page.wait_for_selector(f'{node_sel("learner")} .dn-node[data-state="executing"]', timeout=120_000)
    # a running node keeps a lamp lit; its progress text is not cut; a queued node shows a drawn icon
    learner = page.locator(f"{node_sel('learner')}")
    assert learner.locator(".lamp.on").count() == 1
    page.wait_for_function(f"() => /epoch/.test(document.querySelector('{node_sel('learner')} .dn-progress-msg')?.textContent)",
                           timeout=120_000)
    msg = learner.locator(".dn-progress-msg")
    clipped = msg.evaluate("e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1")
    assert not clipped, msg.inner_text()
    assert "epoch" in msg.inner_text()
    queued = page.locator(f"{node_sel('scorer')} .dn-queued")
    if page.locator(f'{node_sel("scorer")} .dn-node[data-state="queued"]').count():
        assert queued.evaluate("e => e.tagName.toLowerCase()") == "svg"
    shot(page, "running")
    page.wait_for_selector(f'{node_sel("scorer")} .dn-node[data-state="executed"]', timeout=240_000)

    # the monitor: counters agree with the axis; epochs are numbered from 1
    learner.locator(".dn-node-box").click(button="right")
    page.locator(".dn-menu button", has_text="Learning monitor").first.click()
    page.wait_for_function("() => +document.querySelector('.dn-monitor').dataset.epochPoints === 3", timeout=30_000)
    assert page.inner_text('[data-testid="monitor-counts"]') == "24 batches · 3 epochs"
    page.select_option('select[aria-label="x axis"]', "epoch")
    ticks = [float(t) for t in page.locator('[data-testid="chart-loss"] svg > text[text-anchor="middle"]').all_text_contents()
             if t.replace(".", "", 1).isdigit()]
    assert ticks and min(ticks) >= 1 and max(ticks) <= 3 and all(t == int(t) for t in ticks), ticks
    dots = page.locator('[data-testid="chart-loss"] circle').count()
    assert dots >= 3
    shot(page, "monitor-per-epoch")
    page.keyboard.press("Escape")

    # the confusion matrix of the test slice
    page.locator(f"{node_sel('scorer')} .dn-node-box").click(button="right")
    page.locator(".dn-menu button", has_text="Scorer view").first.click()
    page.wait_for_selector('[data-testid="confusion-matrix"] td')
    total = sum(int(c.replace(",", "")) for c in page.locator('[data-testid="confusion-matrix"] tbody td').all_inner_texts())
    assert total == 64
    shot(page, "confusion-matrix")
    assert not page.errors, page.errors


def test_save_as_names_an_untitled_workflow_and_the_name_is_not_cut(server, page):
    (server.workspace / "bug8-untitled.json").write_text(
        '{"format": "deepnodes.workflow/1", "name": "untitled", "nodes": [], "connections": []}')
    page.goto(f"{server.url}&open=bug8-untitled.json")
    wait_drawn(page)
    page.locator("button", has_text="Save as").first.click()
    page.fill('[data-testid="saveas-path"]', "fashion_classifier_v2.json")
    page.locator('.dn-saveas button[type="submit"]').click()
    page.wait_for_selector(".dn-saveas", state="detached")
    name = page.locator('input[aria-label="workflow name"]')
    page.wait_for_function("() => document.querySelector('input[aria-label=\"workflow name\"]').value === 'fashion_classifier_v2'")
    assert not name.evaluate("e => e.scrollWidth > e.clientWidth + 1"), "the name field cuts the name"
    assert json.loads((server.workspace / "fashion_classifier_v2.json").read_text())["name"] == "fashion_classifier_v2"
    shot(page, "saved-as-name")


# ---------------------------------------------------------------------------------------------- bug 9
def test_failed_node_log_shows_the_error_once(server, page):
    (server.workspace / "exists.parquet").write_bytes(b"x")
    wf = {"format": "deepnodes.workflow/1", "name": "bug9", "nodes": [
        {"id": "r", "type": "deepnodes.data.DatasetReader", "label": "Reader", "position": [0, 0],
         "config": {"dataset": "digits", "limit": 5}},
        {"id": "w", "type": "deepnodes.data.TableWriter", "label": "Writer", "position": [220, 0],
         "config": {"path": str(server.workspace / "exists.parquet"), "format": "parquet", "overwrite": False}}],
        "connections": [{"source": "r", "source_port": "table", "target": "w", "target_port": "table"}]}
    (server.workspace / "bug9.json").write_text(json.dumps(wf))
    page.goto(f"{server.url}&open=bug9.json")
    wait_drawn(page)
    page.wait_for_selector('[data-testid="ws-status"]:has-text("live")')
    page.click('[data-testid="execute-all"]')
    page.wait_for_selector(f'{node_sel("w")} .dn-node[data-state="failed"]', timeout=60_000)
    page.locator(f"{node_sel('w')} .dn-node-box").click(button="right")
    page.locator(".dn-menu button", has_text="Messages and log").first.click()
    page.wait_for_selector(".dn-logview")
    page.wait_for_timeout(300)
    text = page.inner_text(".dn-logview")
    assert "Traceback" not in text, text  # a user error is its sentence (a bug would show one collapsed traceback)
    assert text.count("exists and option 'overwrite' is off") <= 2, text  # the state line and the log line
    assert "overwrite" in text
    messages = page.inner_text('[data-testid="messages"]')
    assert "Traceback" not in messages and messages.count("is off") == 1, messages
    shot(page, "failed-node-log")


# ---------------------------------------------------------------------------------------------- bug 5
def test_new_open_and_reload_ask_before_discarding_unsaved_work(server, page):
    open_copy(server, page, "fashion_mnist_prep.json", "bug5-dirty.json")
    configure(page, "reader")
    page.fill("#f-limit", "123")
    page.click('.dn-config button[type="submit"]')
    page.wait_for_selector(".dn-config", state="detached")
    page.wait_for_function("() => window.__dn.doc.dirty")
    first = doc_id(page)
    asked: list[str] = []

    def answer(accept: bool):
        def on_dialog(d):
            asked.append(d.type)
            d.accept() if accept else d.dismiss()
        return on_dialog

    # New: asked; "no" keeps the workflow as it is
    handler = answer(False)
    page.on("dialog", handler)
    page.locator(".dn-toolbar button", has_text="New").first.click()
    page.wait_for_timeout(400)
    assert asked == ["confirm"] and doc_id(page) == first and page.evaluate("window.__dn.doc.dirty")
    # Open… an example: asked again; still kept
    page.click('[data-testid="open"]')
    page.click('.dn-open button[data-example="mnist_cnn.json"]')
    page.wait_for_timeout(400)
    assert asked == ["confirm", "confirm"] and doc_id(page) == first
    if page.locator(".dn-open").count():
        page.locator(".dn-open .close").click()
    # reload: the page warns before it unloads (the browser's own "leave site?" question); "stay" keeps it
    try:
        page.reload(timeout=2_000)
    except Exception:  # the navigation was cancelled: the user stayed
        pass
    assert asked[-1] == "beforeunload", asked
    assert doc_id(page) == first
    asked.pop()
    # "yes" to New replaces it
    page.remove_listener("dialog", handler)
    page.on("dialog", answer(True))
    page.locator(".dn-toolbar button", has_text="New").first.click()
    page.wait_for_function("prev => window.__dn.doc.id !== prev", arg=first)
    assert asked == ["confirm", "confirm", "confirm"]
    # a saved or untouched workflow is replaced without a question
    page.evaluate("() => { const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); "
                  "window.__dn.unloadBlocked = e.defaultPrevented; }")
    assert page.evaluate("window.__dn.unloadBlocked") is False
    second = doc_id(page)
    page.locator(".dn-toolbar button", has_text="New").first.click()
    page.wait_for_function("prev => window.__dn.doc.id !== prev", arg=second)
    assert len(asked) == 3
    assert not page.errors, page.errors


def test_fresh_learner_with_empty_inputs_accepts_ok(server, page):
    """A Learner just dropped (no inputs, no targets yet): OK applies the new epochs; empty means the default."""
    (server.workspace / "bug2-fresh.json").write_text(
        '{"format": "deepnodes.workflow/1", "name": "fresh learner", "nodes": [], "connections": []}')
    page.goto(f"{server.url}&open=bug2-fresh.json")
    wait_drawn(page)
    page.wait_for_selector(".dn-palette-item")
    page.fill('input[aria-label="search nodes"]', "network learner")
    page.drag_and_drop('.dn-palette-item[data-type="deepnodes.dl.NetworkLearner"]', ".react-flow__pane",
                       target_position={"x": 300, "y": 200})
    page.wait_for_selector(node_sel("networklearner1"))
    configure(page, "networklearner1")
    page.fill("#f-epochs", "7")
    page.click('.dn-config button[type="submit"]')
    page.wait_for_selector(".dn-config", state="detached", timeout=10_000)
    cfg = node_config(save_and_read(page, server.workspace / "bug2-fresh.json"), "networklearner1")
    assert cfg["epochs"] == 7 and cfg.get("inputs", []) == [] and cfg.get("targets", []) == []
    assert not page.errors, page.errors
