"""Starting `deepnodes serve` on a free port and Debian's Chromium for the browser tests and the benchmark."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
STATIC_INDEX = ROOT / "deepnodes" / "server" / "static" / "index.html"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`deepnodes serve` in a subprocess; `restart()` keeps its port and token."""

    def __init__(self, workspace: Path, token: str = "browser-test-token", port: int | None = None,
                 workflow: Path | None = None):
        self.workspace = Path(workspace)
        self.workflow = workflow  # `deepnodes serve WORKFLOW`: the printed address opens it
        self.token = token
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    @property
    def printed_url(self) -> str:
        """The address `deepnodes serve` printed (with `&open=` when it was given a workflow)."""
        text = Path(self.log.name).read_text(errors="replace")
        found = [w for w in text.split() if w.startswith(f"http://127.0.0.1:{self.port}/")]
        assert found, f"the server printed no address; see {self.log.name}"
        return found[-1]

    def start(self) -> "Server":
        ARTIFACTS.mkdir(exist_ok=True)
        self.log = open(ARTIFACTS / f"server-{self.port}.log", "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deepnodes.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workspace", str(self.workspace), "--token", self.token,
             *([str(self.workflow)] if self.workflow else [])],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        t0 = time.time()
        while time.time() - t0 < 60:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                self.api("GET", "/api/info")
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.log:
            self.log.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"X-DeepNodes-Token": self.token, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")


@contextlib.contextmanager
def chromium(viewport=(1400, 860)):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            yield ctx
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for a test module (import it into the module as a fixture). Under CI a missing
    Playwright is a failure, not a skip."""
    if os.environ.get("CI") != "true":
        pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def tab(browser, size=(1400, 860)):
    """A fresh tab (its own local storage) of `size`; the test fails if the page raised an error."""
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"the page raised: {errors}"


def center(page, selector: str, settle_s: float = 5.0) -> tuple[float, float]:
    """The centre of the first element matching `selector`, once it has stopped moving (the view may still be
    fitting or re-fitting after a drop or a resized pane: a drag aimed at a moving handle misses it)."""
    loc = page.locator(selector).first
    box = loc.bounding_box()
    end = time.monotonic() + settle_s
    while time.monotonic() < end:
        page.wait_for_timeout(150)
        again = loc.bounding_box()
        if again == box:
            break
        box = again
    assert box is not None, f"{selector} is not on screen"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page, start: tuple[float, float], end: tuple[float, float], steps: int = 12) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.up()


@contextlib.contextmanager
def node_dialog(browser, tmp_path: Path, example: str, node_id: str, size=(1400, 900)):
    """`example` (a file of examples/) copied to tmp_path/wf.json, served, opened, and `node_id`'s dialog open:
    yields (page, server). Leave it with `ok_and_save(page)`; the server stops at the end."""
    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web`"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(ROOT / "examples" / example, tmp_path / "wf.json")
    server = Server(tmp_path).start()
    try:
        with tab(browser, size) as page:
            page.goto(server.url + "&open=wf.json")
            node = f'.react-flow__node[data-id="{node_id}"]'
            page.wait_for_selector(f'{node} .dn-node[data-state="configured"]', timeout=60_000)
            page.locator(f"{node} .dn-node-box").dblclick()
            page.wait_for_selector(".dn-config")
            yield page, server
    finally:
        server.stop()


def ok_and_save(page) -> None:
    """OK in the open dialog, then Ctrl+S, waiting until the title says the workflow is saved."""
    page.click('.dn-config button:has-text("OK")')
    page.wait_for_selector(".dn-config", state="detached")
    page.wait_for_function("() => document.title.includes(' * ')", timeout=15_000)  # an unsaved edit
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.title.includes(' * ')", timeout=15_000)
