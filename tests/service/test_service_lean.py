"""The lean /predict path (`app._LeanPredict`: JSON bodies past FastAPI's routing) answers exactly as the FastAPI
route does, for good rows and for every kind of bad body; the token guards it; the bundle runner's rows path decodes
each image once and gives the table path's answer."""
from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

httpx = pytest.importorskip("httpx")

sys.path.insert(0, str(Path(__file__).parent))
from digits_service import build, digit_images, png_b64  # noqa: E402

IMAGES, _ = digit_images(20)
TOKEN = "lean-token"


@pytest.fixture(scope="module")
def segment(tmp_path_factory):
    from deepnodes.core import Engine
    from deepnodes.service.segment import Segment

    d = tmp_path_factory.mktemp("lean")
    wf = build(extra_columns=True)
    eng = Engine(wf)
    assert eng.run().ok
    eng.save_results(d / "digits.results")
    return Segment(wf, d / "digits.results")


@pytest.fixture(scope="module")
def app(segment):
    from deepnodes.service.app import create_app

    return create_app(segment, TOKEN)


def _both(app, body: bytes) -> tuple[tuple[int, dict], tuple[int, dict]]:
    """The same bytes to the lean path (application/json) and to the FastAPI route (another content type, which
    the route also reads as JSON)."""
    async def go():
        t = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=t, base_url="http://svc") as c:
            out = []
            for ctype in ("application/json", "text/plain"):
                r = await c.post("/predict", content=body, headers={"content-type": ctype,
                                                                     "authorization": f"Bearer {TOKEN}"})
                out.append((r.status_code, r.json()))
            return out
    return tuple(asyncio.run(go()))


GOOD = {"image": png_b64(IMAGES[0]), "note": "a", "weight": 1.0}
CELLS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
                  st.text(max_size=4), st.just(png_b64(IMAGES[1])), st.just(base64.b64encode(b"junk").decode()),
                  st.lists(st.integers(0, 2), max_size=2))
ROWS = st.lists(st.dictionaries(st.sampled_from(["image", "note", "weight", "other"]), CELLS, max_size=4).map(
    lambda r: {**GOOD, **r}), max_size=3)
BODIES = st.one_of(ROWS.map(lambda rows: json.dumps({"rows": rows}).encode()),
                   st.dictionaries(st.text(max_size=5), st.integers(), max_size=2).map(lambda d: json.dumps(d).encode()),
                   st.sampled_from([b'{"rows": [', b'{"rows": [{"image": NaN}]}', b"[]", b"", b"\xff\xfe",
                                    json.dumps({"rows": [GOOD] * 65}).encode()]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(BODIES)
def test_the_lean_path_answers_as_the_route(app, body):
    lean, route = _both(app, body)
    assert lean == route
    assert set(lean[1]) == ({"rows"} if lean[0] == 200 else {"error"})


def test_good_rows_through_the_lean_path(app, segment):
    from deepnodes.service.decode import decode_rows, table_rows

    rows = [{**GOOD, "image": png_b64(IMAGES[i])} for i in range(6)]
    (status, body), route = _both(app, json.dumps({"rows": rows}).encode())
    assert status == 200 and (status, body) == route
    want = table_rows(segment.run(decode_rows(segment.columns, rows, 64)), segment.output_columns)
    assert [r["prediction"] for r in body["rows"]] == [r["prediction"] for r in want]
    assert max(abs(a["probability"] - b["probability"]) for a, b in zip(body["rows"], want)) < 1e-5


def test_the_token_guards_the_lean_path_and_limits_hold(app):
    async def go():
        t = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=t, base_url="http://svc") as c:
            body = json.dumps({"rows": [GOOD]}).encode()
            no = await c.post("/predict", content=body, headers={"content-type": "application/json"})
            big = await c.post("/predict", content=body, headers={
                "content-type": "application/json", "authorization": f"Bearer {TOKEN}",
                "content-length": str(64 * 2 ** 20)})
            return no, big
    no, big = asyncio.run(go())
    assert no.status_code == 401 and "token" in no.json()["error"]
    assert big.status_code == 413 and "larger than 16 MiB" in big.json()["error"]


def test_the_rows_path_decodes_each_image_once(segment, monkeypatch):
    """The bundle runner takes the images the request check decoded: PIL opens each image once per request."""
    from PIL import Image

    from deepnodes.service.batcher import Batcher
    from deepnodes.service.decode import checked_rows, decode_rows

    b = Batcher(segment)
    assert b.runner == "bundle" and b.rows
    opened = []
    real = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(1) or real(*a, **k))
    rows = [{**GOOD, "image": png_b64(IMAGES[i])} for i in range(5)]
    got = asyncio.run(b.submit_rows(checked_rows(segment.columns, rows, 64)))
    assert len(opened) == 5
    table = b.plan.table(got)
    want = b.run(decode_rows(segment.columns, rows, 64))
    assert table.to_pylist() == want.to_pylist()
    b.close()


def test_json_bodies_take_the_lean_path(app, monkeypatch):
    """With the route's body reader broken, a JSON body is still answered (the lean path reads it), another
    content type is not (the route reads it)."""
    import deepnodes.service.app as app_module

    async def broken(*a, **k):
        raise RuntimeError("the route's reader was called")

    monkeypatch.setattr(app_module, "_rows", broken)
    (lean_status, _), (route_status, route_body) = _both(app, json.dumps({"rows": [GOOD]}).encode())
    assert lean_status == 200 and route_status == 500 and "the route's reader" in route_body["error"]
