"""The editor's text views in headless Chromium, on a tiny encoder-decoder Transformer and a tiny character
Transformer trained here and reopened from their saved results: the Decoder's attention view (its cells are the
served weights' colours, every row sums to 1), and "try it" on the Decoder and the Text Generator (the box gives
what the node gave for the same text). Screenshots: test-artifacts/editor-text-*.png."""
from __future__ import annotations

import os

import pytest

from deepnodes.core import Engine, Workflow
from tests.server.browser_util import ARTIFACTS, CHROMIUM, STATIC_INDEX, Server, browser, tab  # noqa: F401
from tests.server.test_text_try_and_attention import small_lm
from tests.text.test_transformer_lm_example import EXAMPLES
from tests.text.test_transformer_translation_example import _small

pytestmark = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
                       reason="Debian's chromium (/usr/bin/chromium) is not installed"),
]


def _trained(ws, wf: Workflow, name: str) -> Engine:
    wf.save(ws / name)
    eng = Engine(wf)
    assert eng.run().ok
    eng.save_results((ws / name).with_suffix(".results"))
    return eng


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert STATIC_INDEX.is_file(), "the editor's page is not built: run `make web`"
    ws = tmp_path_factory.mktemp("text-views-ws")
    tr = _small(Workflow.load(EXAMPLES / "translation_transformer_en_de.json"))
    tr.set_option("learner", "epochs", 4)
    engines = {"tr": _trained(ws, tr, "tr.json"), "lm": _trained(ws, small_lm(), "lm.json")}
    s = Server(ws).start()
    s.engines = engines
    yield s
    s.stop()


def _menu(page, nid: str, item: str) -> None:
    page.locator(f'.react-flow__node[data-id="{nid}"] .dn-node-box').click(button="right")
    page.locator(".dn-menu button", has_text=item).first.click()


def _open(page, server, name: str, nid: str) -> None:
    page.goto(server.url + f"&open={name}")
    page.wait_for_selector(f'.react-flow__node[data-id="{nid}"] .dn-node[data-state="executed"]', timeout=60_000)


def test_attention_view_shows_the_decoders_maps(browser, server):
    from deepnodes.dl.attention_maps import from_table

    want = from_table(server.engines["tr"].output("decoder_node", "attention"))
    with tab(browser, (1400, 900)) as page:
        _open(page, server, "tr.json", "decoder_node")
        _menu(page, "decoder_node", "View: attention")
        page.wait_for_selector("[data-testid=attention-map]")
        tabs = page.locator(".dn-att-picks button")
        assert tabs.count() == 8 and tabs.nth(0).inner_text() == "decoder_1 · head 0"
        tabs.nth(5).click()  # decoder_2, head 1
        cells = page.locator("[data-testid=attention-map] tbody tr")
        assert cells.count() == len(want["target"])
        shown = page.evaluate("""() => [...document.querySelectorAll('[data-testid=attention-map] tbody tr')]
            .map(tr => [...tr.querySelectorAll('td')].map(td => Number(td.dataset.w)))""")
        assert shown == want["maps"][5]["weights"]
        assert all(abs(sum(r) - 1) < 2e-3 for r in shown)
        page.screenshot(path=str(ARTIFACTS / "editor-text-attention.png"))


def test_try_it_translates_and_generates_like_the_nodes(browser, server):
    tr_out = server.engines["tr"].output("greedy_node")
    english, german = tr_out.column("english")[0].as_py(), tr_out.column("translation")[0].as_py()
    with tab(browser, (1400, 900)) as page:
        _open(page, server, "tr.json", "greedy_node")
        _menu(page, "greedy_node", "Try it")
        page.fill("textarea[aria-label='sentence to translate']", english)
        page.click(".dn-tryit button:has-text('Translate')")
        page.wait_for_selector("[data-testid=try-it-output]")
        assert page.inner_text("[data-testid=try-it-text]") == german
        page.screenshot(path=str(ARTIFACTS / "editor-text-try-translate.png"))

    gen = server.engines["lm"].output("generator")
    seed, generated = gen.column("text")[0].as_py(), gen.column("generated")[0].as_py()
    with tab(browser, (1400, 900)) as page:
        _open(page, server, "lm.json", "generator")
        _menu(page, "generator", "Try it")
        page.fill("textarea[aria-label='seed text']", seed)
        page.click(".dn-tryit button:has-text('Generate')")
        page.wait_for_selector("[data-testid=try-it-output]")
        assert page.inner_text("[data-testid=try-it-text]").split() == generated.split()  # seed + continuation
        page.fill("textarea[aria-label='seed text']", "")
        assert page.locator(".dn-tryit button:has-text('Generate')").is_disabled()
        page.screenshot(path=str(ARTIFACTS / "editor-text-try-generate.png"))
