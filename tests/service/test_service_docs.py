"""The service's /docs and /redoc pages work offline: Swagger UI and ReDoc come from the service itself (the files
`fastapi-offline` ships), never from a CDN, and load without the token (they are library files, not data)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from digits_service import build  # noqa: E402
from service_http_util import CLI, ENV, TOKEN  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from fastapi.testclient import TestClient

    from deepnodes.service.app import create_app
    from deepnodes.service.serve import load_segment

    d = tmp_path_factory.mktemp("docs")
    wf = d / "digits.json"
    build().save(wf)
    r = subprocess.run(CLI + ["run", str(wf), "--save-results", "--quiet"], env=ENV, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    with TestClient(create_app(load_segment(str(wf)), token=TOKEN)) as c:
        yield c


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_their_scripts_from_the_service(client, page):
    html = client.get(page + f"?token={TOKEN}")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text) + re.findall(r"""url: *['"]([^'"]+)['"]""",
                                                                                     html.text)
    assert urls and all(u.startswith("/") for u in urls), urls  # nothing from another host
    assets = [u for u in urls if u.endswith((".js", ".css"))]
    assert len(assets) >= 1
    for u in assets:
        got = client.get(u)  # no token: the page's own files
        assert got.status_code == 200 and len(got.content) > 10_000, u
        assert ("javascript" if u.endswith(".js") else "css") in got.headers["content-type"]


def test_the_token_still_guards_everything_else(client):
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/docs-assets/../schema").status_code in (401, 404)
    assert client.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
