"""Hostile JSON in requests: NaN and Infinity, numbers beyond float or 64 bits, deep nesting, wrong types.
Each is a 4xx with one sentence, and the document stays whole (it still serialises and can be edited)."""
from __future__ import annotations

import json
import math

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepnodes.server.app import create_app
from deepnodes.server.limits import MAX_DEPTH, BadJSON, dumps, parse_json
from tests.server import server_nodes  # noqa: F401 - registers the test nodes

TOKEN = "t-input"
H = {"X-DeepNodes-Token": TOKEN, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(tmp_path_factory.mktemp("ws"), TOKEN)) as c:
        d = c.post("/api/docs/new", headers=H, json={"name": "t"}).json()
        r = c.post(f"/api/docs/{d['id']}/edit", headers=H, json={"ops": [
            {"op": "add", "id": "src", "type": "test.server.Numbers", "config": {"rows": 5}, "position": [0, 0]}]})
        assert r.status_code == 200, r.text
        c.doc = d["id"]
        yield c


def _whole(c) -> dict:
    """The document still serialises as strict JSON, and a layout edit still works."""
    r = c.get(f"/api/docs/{c.doc}", headers=H)
    assert r.status_code == 200
    json.loads(r.text, parse_constant=lambda s: pytest.fail(f"{s} in a response"))
    r = c.post(f"/api/docs/{c.doc}/edit", headers=H, json={"ops": [{"op": "move", "id": "src", "position": [1, 2]}]})
    assert r.status_code == 200, r.text
    return r.json()


def _sentence(r) -> str:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    msg = r.json()["error"]
    assert isinstance(msg, str) and 5 < len(msg) <= 804 and "Traceback" not in msg and "\n" not in msg
    return msg


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_position_refused(client, raw):
    body = '{"ops": [{"op": "move", "id": "src", "position": [%s, 0]}]}' % raw
    msg = _sentence(client.post(f"/api/docs/{client.doc}/edit", headers=H, content=body))
    assert "finite" in msg
    assert _whole(client)["workflow"]["nodes"][0]["position"] == [1, 2]


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "1e999"])
def test_non_finite_config_refused(client, raw):
    body = '{"ops": [{"op": "config", "id": "src", "config": {"rows": %s}}]}' % raw
    assert "finite" in _sentence(client.post(f"/api/docs/{client.doc}/edit", headers=H, content=body))
    _whole(client)


def test_huge_integers_refused(client):
    for big in ("9" * 30, "-" + "9" * 5000, str(2 ** 63)):
        body = '{"ops": [{"op": "move", "id": "src", "position": [%s, 0]}]}' % big
        assert "64 bits" in _sentence(client.post(f"/api/docs/{client.doc}/edit", headers=H, content=body))
    _whole(client)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 200_000])
def test_deep_nesting_is_a_sentence(client, depth):
    body = '{"ops": [{"op": "config", "id": "src", "config": {"rows": ' + "[" * depth + "]" * depth + "}}]}"
    assert "nested" in _sentence(client.post(f"/api/docs/{client.doc}/edit", headers=H, content=body))
    body = "[" * depth + "]" * depth
    assert "nested" in _sentence(client.post("/api/docs/new", headers=H, content=body))
    _whole(client)


def test_positions_out_of_range_in_process(client):
    """The same rule holds for edits that do not come through HTTP (Python callers of a document)."""
    doc = client.app.state.docs.get(client.doc)
    from deepnodes.server.session import EditError

    for p in ([math.nan, 0], [0, math.inf], [1e300, 0], [True, 0], ["1", 2], [1]):
        with pytest.raises(EditError):
            doc.edit([{"op": "move", "id": "src", "position": p}])
    _whole(client)


def test_not_json_and_wrong_types(client):
    for body in ("{not json", "\xff\xfe", '"just a string"', "[]", "12"):
        _sentence(client.post("/api/docs/new", headers=H, content=body.encode("latin-1")))
    for body in ({"ops": "add"}, {"ops": []}, {"ops": [1, 2]}, {"ops": [{"op": "move", "id": ["src"]}]},
                 {"ops": [{"op": "add", "type": 5}]}, {"ops": [{"op": "connect"}]}):
        _sentence(client.post(f"/api/docs/{client.doc}/edit", headers=H, json=body))
    _sentence(client.post(f"/api/docs/{client.doc}/save_as", headers=H, json={"path": 7}))
    _sentence(client.post(f"/api/docs/{client.doc}/execute", headers=H, json={"nodes": "src"}))
    _whole(client)


# JSON-ish values a hostile client could put anywhere, including what JSON cannot hold
hostile = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
OPS = ["add", "remove", "connect", "disconnect", "move", "label", "config", "rename", "nope"]
KEYS = ["id", "type", "config", "position", "label", "name", "source", "source_port", "target", "target_port"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(OPS), fields=st.dictionaries(st.sampled_from(KEYS), hostile, max_size=5))
def test_generated_edits_never_break_the_document(client, op, fields):
    body = dumps({"ops": [{"op": op, **fields}]}) if _finite(fields) else json.dumps({"ops": [{"op": op, **fields}]})
    r = client.post(f"/api/docs/{client.doc}/edit", headers=H, content=body)
    assert r.status_code < 500, r.text
    if r.status_code != 200:
        _sentence(r)
    doc = client.get(f"/api/docs/{client.doc}", headers=H)
    assert doc.status_code == 200
    json.loads(doc.text, parse_constant=lambda s: pytest.fail(f"{s} in a response"))
    if "src" not in [n["id"] for n in doc.json()["workflow"]["nodes"]]:  # an edit removed it: put it back
        client.app.state.docs.get(client.doc).edit([{"op": "add", "id": "src", "type": "test.server.Numbers"}])


def _finite(v) -> bool:
    try:
        json.dumps(v, allow_nan=False)
        return True
    except ValueError:
        return False


@settings(max_examples=300, deadline=None)
@given(value=hostile)
def test_parse_json_accepts_exactly_strict_json(value):
    text = json.dumps(value)  # Python writes NaN, Infinity and any integer
    strict = _finite(value) and _ints_fit(value)
    try:
        parsed = parse_json(text)
    except BadJSON as e:
        assert not strict, str(e)
        return
    assert strict and parsed == value


def _ints_fit(v) -> bool:
    if isinstance(v, bool) or v is None or isinstance(v, (float, str)):
        return True
    if isinstance(v, int):
        return abs(v) < 2 ** 63
    items = v.values() if isinstance(v, dict) else v
    return all(_ints_fit(x) for x in items)


# workflow-like files in the workspace: the listing reads them all and never fails for one of them
workflowish = st.fixed_dictionaries({"format": st.just("deepnodes.workflow/1")}, optional={
    "name": hostile, "description": hostile, "runtime": hostile, "connections": hostile,
    "nodes": hostile | st.lists(st.dictionaries(st.sampled_from(["id", "type", "position", "config"]), hostile,
                                                max_size=4), max_size=4)})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=workflowish)
def test_listing_survives_any_workflow_file(client, data):
    ws = client.app.state.workspace.root
    (ws / "generated.json").write_text(json.dumps(data))
    r = client.get("/api/workflows", headers=H)
    assert r.status_code == 200, r.text
    listed = {w["path"]: w for w in r.json()["workflows"]}
    if _finite(data) and _ints_fit(data):
        assert "generated.json" in listed
        assert isinstance(listed["generated.json"]["name"], str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=workflowish)
def test_open_and_import_of_any_workflow_is_a_document_or_a_sentence(client, data):
    ws = client.app.state.workspace.root
    (ws / "opened.json").write_text(json.dumps(data))
    for r in (client.post("/api/docs/open", headers=H, json={"path": "opened.json"}),
              client.post("/api/docs/import", headers=H, content=json.dumps({"workflow": data}))):
        assert r.status_code < 500, r.text
        if r.status_code == 200:
            json.loads(r.text, parse_constant=lambda s: pytest.fail(f"{s} in a response"))
            client.post(f"/api/docs/{r.json()['id']}/close", headers=H, json={"discard": True})
        else:
            _sentence(r)


# ---------------------------------------------------------------- what goes out: NaN from a run, never invalid JSON
from deepnodes.core import In, Node, Out, node  # noqa: E402


@node("test.trust.NaNMetrics", name="NaN Metrics", category="Test/Trust")
class NaNMetrics(Node):
    """A diverging trainer: NaN and infinite losses in its metrics, results and output table."""
    inputs = [In("table", "table", "anything")]
    outputs = [Out("history", "table", "losses")]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        for step, loss in enumerate([1.0, math.inf, math.nan]):
            ctx.metrics({"loss": loss}, step=step, epoch=0, kind="batch")
        ctx.metrics({"loss": math.nan}, step=3, epoch=0, kind="epoch")
        ctx.result("loss", math.nan)
        return [pa.table({"loss": [1.0, math.inf, math.nan]})]


def test_nan_from_a_run_reaches_the_editor_as_strict_json(client):
    strict = {"parse_constant": lambda s: pytest.fail(f"{s} sent to the editor")}
    r = client.post(f"/api/docs/{client.doc}/edit", headers=H, json={"ops": [
        {"op": "add", "id": "nan", "type": "test.trust.NaNMetrics"},
        {"op": "connect", "source": "src", "source_port": "table", "target": "nan", "target_port": "table"}]})
    assert r.status_code == 200, r.text
    with client.websocket_connect(f"/api/ws?doc={client.doc}&token={TOKEN}") as ws:
        json.loads(ws.receive_text(), **strict)
        client.post(f"/api/docs/{client.doc}/execute", headers=H, json={})
        seen = []
        while not (seen and seen[-1].get("type") == "run" and seen[-1].get("state") == "finished"):
            seen.append(json.loads(ws.receive_text(), **strict))
    points = [p for m in seen if m["type"] == "metrics" for p in m["points"]]
    assert [p["values"]["loss"] for p in points] == [1.0, None, None, None]
    for path in (f"/api/docs/{client.doc}", f"/api/docs/{client.doc}/nodes/nan/metrics",
                 f"/api/docs/{client.doc}/nodes/nan/ports/history/table",
                 f"/api/docs/{client.doc}/nodes/nan/ports/history/summary"):
        r = client.get(path, headers=H)
        assert r.status_code == 200, (path, r.text)
        json.loads(r.text, **strict)
    client.post(f"/api/docs/{client.doc}/edit", headers=H, json={"ops": [{"op": "remove", "id": "nan"}]})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(long=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"), min_size=201,
                    max_size=600))
def test_echoed_values_are_cut(client, long):
    """Whatever a client sends that a message repeats (ids, ports, names, paths) is cut to 200 characters."""
    from urllib.parse import quote

    q = quote(long, safe="")
    answers = [client.get(f"/api/docs/{q}", headers=H),
               client.get(f"/api/docs/{client.doc}/nodes/{q}/log", headers=H),
               client.get(f"/api/docs/{client.doc}/nodes/src/ports/{q}/table", headers=H),
               client.post("/api/docs/open", headers=H, json={"example": long[:200] + "x"}),
               client.post(f"/api/docs/{client.doc}/execute", headers=H, json={"nodes": [long]}),
               client.post(f"/api/docs/{client.doc}/edit", headers=H, json={"ops": [{"op": "explode" + long}]}),
               client.post(f"/api/docs/{client.doc}/edit", headers=H,
                           json={"ops": [{"op": "add", "type": long}]})]
    for r in answers:
        msg = _sentence(r)
        assert long not in msg and len(msg) <= 4 * 200 + 3, (r.request.url, msg[:300])
