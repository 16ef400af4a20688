"""Issue 9 follow-ups in headless Chromium: the editor closes the documents it stops showing (New, Open, the
page going away), the canvas re-fits when the learning monitor docks or undocks, the flagship's first view is
readable at 1280 px, and the node repository says it is loading instead of showing an empty list.
Screenshots: test-artifacts/editor-fit-*.png."""
from __future__ import annotations

import os
import shutil
import time
import urllib.error

import pytest

from tests.server.browser_util import ARTIFACTS, CHROMIUM, ROOT, STATIC_INDEX, Server, browser, tab  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
                       reason="Debian's chromium (/usr/bin/chromium) is not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web` (cd web && npm ci && npm run build)"
    ARTIFACTS.mkdir(exist_ok=True)
    ws = tmp_path_factory.mktemp("docs-fit-ws")
    for name in ("fashion_mnist_prep.json", "mnist_cnn.json", "image_classification.json"):
        shutil.copy(ROOT / "examples" / name, ws / name)
    s = Server(ws).start()
    yield s
    s.stop()


@pytest.fixture
def page(browser):
    with tab(browser, (1280, 800)) as pg:
        yield pg


def open_file(page, server, name: str) -> str:
    page.goto(f"{server.url}&open={name}")
    page.wait_for_function("n => window.__dn.doc && window.__dn.doc.path === n && window.__dn.rendered"
                           " && window.__dn.rendered.doc === window.__dn.doc.id", arg=name)
    page.wait_for_selector('[data-testid="ws-status"]:has-text("live")')
    return page.evaluate("window.__dn.doc.id")


def server_has(server, doc_id: str) -> bool:
    try:
        server.api("GET", f"/api/docs/{doc_id}")
        return True
    except urllib.error.HTTPError as e:
        assert e.code == 404, e
        return False


def wait_gone(server, doc_id: str, seconds: float = 10) -> None:
    t0 = time.time()
    while server_has(server, doc_id):
        assert time.time() - t0 < seconds, f"the server still holds document {doc_id}"
        time.sleep(0.1)


def test_open_new_and_leaving_the_page_close_the_documents_the_editor_stops_showing(page, server):
    a = open_file(page, server, "fashion_mnist_prep.json")
    # Open… another workflow in the same tab: the first one is closed on the server
    page.click('[data-testid="open"]')
    page.click('.dn-open button[data-path="mnist_cnn.json"]')
    page.wait_for_function("a => window.__dn.doc.id !== a && window.__dn.doc.path === 'mnist_cnn.json'", arg=a)
    b = page.evaluate("window.__dn.doc.id")
    wait_gone(server, a)
    assert server_has(server, b)
    # a reload frees the document it showed, and the page opens its file again as a new document
    assert page.url.endswith("open=mnist_cnn.json")  # the address names the workflow shown
    page.reload()
    page.wait_for_function("b => window.__dn.doc && window.__dn.doc.id !== b && window.__dn.doc.path === 'mnist_cnn.json'",
                           arg=b, timeout=20_000)
    wait_gone(server, b)
    c = page.evaluate("window.__dn.doc.id")
    assert server_has(server, c)
    # unsaved changes the user agrees to drop: New closes the document, discarding them
    server.api("POST", f"/api/docs/{c}/edit", {"ops": [{"op": "move", "id": "dense", "position": [5, 5]}]})
    page.wait_for_function("() => window.__dn.doc.dirty")
    page.once("dialog", lambda d: d.accept())
    page.locator(".dn-toolbar button", has_text="New").first.click()
    page.wait_for_function("c => window.__dn.doc.id !== c", arg=c)
    wait_gone(server, c)


def test_a_document_another_tab_still_shows_stays_open_when_one_tab_leaves(page, server, browser):
    a = open_file(page, server, "fashion_mnist_prep.json")
    other = page.context.new_page()
    try:
        assert open_file(other, server, "fashion_mnist_prep.json") == a  # one document per file
        page.goto("about:blank")  # the first tab leaves: the second still watches the document
        time.sleep(1.0)
        assert server_has(server, a)
        other.goto("about:blank")
        wait_gone(server, a)
    finally:
        other.close()


def nodes_inside_pane(page) -> list[str]:
    """The ids of the nodes whose box lies outside the canvas pane (hidden behind a panel or off screen)."""
    return page.evaluate("""() => {
        const pane = document.querySelector('.dn-canvas').getBoundingClientRect();
        return [...document.querySelectorAll('.react-flow__node')].filter((n) => {
            const r = n.querySelector('.dn-node-box').getBoundingClientRect();
            return r.left < pane.left - 1 || r.right > pane.right + 1 || r.top < pane.top - 1 || r.bottom > pane.bottom + 1;
        }).map((n) => n.dataset.id);
    }""")


def zoom(page) -> float:
    return page.evaluate("() => new DOMMatrix(getComputedStyle(document.querySelector('.react-flow__viewport')).transform).a")


def refits(page) -> int:
    return page.evaluate("window.__dn.refits || 0")


def test_the_flagship_first_view_is_readable_at_1280_and_refits_when_the_monitor_docks(page, server):
    open_file(page, server, "image_classification.json")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "editor-fit-flagship-1280.png"))
    assert nodes_inside_pane(page) == []
    fitted = zoom(page)
    assert fitted >= 0.55, f"the flagship's first view is drawn at {fitted:.2f}x: too small to read at 1280 px"
    # dock the learning monitor: the canvas narrows and re-fits, no node behind the monitor
    n = refits(page)
    page.locator('.react-flow__node[data-id="learner"] .dn-node-box').click(button="right")
    page.locator(".dn-menu button", has_text="Learning monitor").click()
    page.wait_for_selector(".dn-viewwin.docked")
    page.wait_for_function("n => (window.__dn.refits || 0) > n", arg=n)
    page.screenshot(path=str(ARTIFACTS / "editor-fit-flagship-docked.png"))
    assert nodes_inside_pane(page) == []
    docked = zoom(page)
    assert docked < fitted
    # undock: the canvas widens and fits again
    n = refits(page)
    page.locator('.dn-viewwin.docked button[aria-label="close view"]').click()
    page.wait_for_function("n => (window.__dn.refits || 0) > n", arg=n)
    assert nodes_inside_pane(page) == []
    assert abs(zoom(page) - fitted) < 0.02
    # the messages panel closing resizes the pane too: a whole view re-fits ...
    n = refits(page)
    page.click(".dn-panel header")
    page.wait_for_function("n => (window.__dn.refits || 0) > n", arg=n)
    assert nodes_inside_pane(page) == []
    # ... and a view the user zoomed into one part is left as it is
    for _ in range(3):
        page.locator(".react-flow__controls-zoomin").click()
    page.wait_for_timeout(400)
    zoomed = zoom(page)
    assert nodes_inside_pane(page) != []
    n = refits(page)
    page.click(".dn-panel header")
    page.wait_for_timeout(500)
    assert refits(page) == n and abs(zoom(page) - zoomed) < 1e-6


def test_the_repository_says_loading_until_the_node_list_arrives_and_asks_for_it_first(page, server):
    order: list[str] = []
    page.on("request", lambda r: order.append(r.url.split("?")[0].split(f":{server.port}")[-1])
            if "/api/" in r.url else None)

    def slow(route):
        time.sleep(1.5)
        route.continue_()

    page.route("**/api/nodes*", slow)
    page.goto(server.url)
    status = page.wait_for_selector(".dn-palette .dn-palette-loading")
    assert "loading nodes" in status.inner_text()
    assert page.locator(".dn-palette", has_text="No node matches").count() == 0
    page.wait_for_selector(".dn-palette-item", timeout=20_000)
    assert page.locator(".dn-palette-loading").count() == 0
    assert order[0] == "/api/nodes", order


def test_the_repository_names_a_failed_node_list(page, server):
    page.route("**/api/nodes*", lambda route: route.fulfill(status=500, content_type="application/json",
                                                           body='{"error": "the catalogue broke"}'))
    page.goto(server.url)
    alert = page.wait_for_selector(".dn-palette [role=alert]")
    assert alert.inner_text() == "the node list could not be loaded: the catalogue broke"
    assert page.locator(".dn-palette-loading").count() == 0


def test_a_document_closed_under_the_page_is_opened_again_from_its_file(page, server):
    a = open_file(page, server, "fashion_mnist_prep.json")
    assert server.api("POST", f"/api/docs/{a}/close", {}) == {"closed": True, "id": a}  # a client that names no page
    page.wait_for_function("a => window.__dn.doc.id !== a && window.__dn.doc.path === 'fashion_mnist_prep.json'", arg=a)
    page.locator(".dn-toast", has_text="another page closed this workflow").wait_for()
    assert server_has(server, page.evaluate("window.__dn.doc.id"))
