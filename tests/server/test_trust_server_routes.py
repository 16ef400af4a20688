"""Every API route, enumerated from the app's own route table (a new route is covered by itself): refused
without the token or with a wrong one, answered with it; and every operation of the app's OpenAPI schema
fuzzed with schemathesis, on a real document, for server errors."""
from __future__ import annotations

import re
import time

import pytest
import schemathesis
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.websockets import WebSocketDisconnect

from deepnodes.server.app import create_app
from tests.server import server_nodes  # noqa: F401 - registers the test nodes

TOKEN = "t-routes"
H = {"X-DeepNodes-Token": TOKEN}
FUZZ_EXAMPLES = 15  # per operation: ~360 requests in all


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(tmp_path_factory.mktemp("ws"), TOKEN)) as c:
        yield c


def _doc(c) -> str:
    d = c.post("/api/docs/new", headers=H, json={"name": "t"}).json()["id"]
    r = c.post(f"/api/docs/{d}/edit", headers=H, json={"ops": [
        {"op": "add", "id": "src", "type": "test.server.Numbers", "config": {"rows": 30}},
        {"op": "add", "id": "flt", "type": "test.server.Filter", "config": {"minimum": 10}},
        {"op": "connect", "source": "src", "source_port": "table", "target": "flt", "target_port": "table"}]})
    assert r.status_code == 200, r.text
    return d


def _wait_idle(c, d):
    doc = c.app.state.docs.by_id.get(d)
    t0 = time.time()
    while doc is not None and doc.running:
        assert time.time() - t0 < 30
        time.sleep(0.01)


def _api_routes(app):
    routes = [r for r in app.routes if isinstance(r, (APIRoute, APIWebSocketRoute)) and r.path.startswith("/api/")]
    assert len(routes) >= 20  # the table is really read
    return routes


def _fill(path: str, doc: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: {"doc_id": doc, "nid": "flt", "port": "table"}.get(m[1], "x"), path)


@pytest.mark.parametrize("given_token", [None, "", "wrong", TOKEN + "x", TOKEN[:-1], TOKEN.upper()])
def test_every_route_refuses_a_missing_or_wrong_token(client, given_token):
    d = _doc(client)
    for route in _api_routes(client.app):
        path = _fill(route.path, d)
        if isinstance(route, APIWebSocketRoute):
            with pytest.raises(WebSocketDisconnect) as e:
                with client.websocket_connect(path + f"?doc={d}" + (f"&token={given_token}" if given_token else "")) as ws:
                    ws.receive_json()
            assert e.value.code == 4401
            continue
        for method in route.methods:
            headers = {} if given_token is None else {"X-DeepNodes-Token": given_token}
            for kw in ({"headers": headers}, {"headers": {"Authorization": f"Bearer {given_token or ''}"}},
                       {"params": {"token": given_token or ""}}):
                r = client.request(method, path, json={"path": "x.json", "discard": True}, **kw)
                assert r.status_code == 401, (method, path, kw, r.status_code)
                assert "valid token" in r.json()["error"]
    assert client.app.state.docs.get(d).engine.status["flt"].state == "configured"  # nothing ran


def test_every_route_answers_the_valid_token(client):
    for way in ("header", "bearer", "query"):
        d = _doc(client)
        for route in _api_routes(client.app):
            path = _fill(route.path, d)
            if isinstance(route, APIWebSocketRoute):
                with client.websocket_connect(f"{path}?doc={d}&token={TOKEN}") as ws:
                    assert ws.receive_json()["type"] == "hello"
                continue
            kw = {"header": {"headers": H}, "bearer": {"headers": {"Authorization": f"Bearer {TOKEN}"}},
                  "query": {"params": {"token": TOKEN}}}[way]
            for method in route.methods:
                if path.endswith("/close"):
                    continue  # closes last, below
                r = client.request(method, path, **kw)
                assert r.status_code < 500 and r.status_code != 401, (method, path, r.status_code, r.text)
                assert "valid token" not in r.text
                _wait_idle(client, d)
        assert client.post(f"/api/docs/{d}/close", headers=H, json={"discard": True}).status_code == 200


def test_a_route_outside_the_api_needs_no_token_and_reveals_nothing(client):
    assert client.get("/").status_code in (200, 503)
    assert client.get("/assets/../../pyproject.toml").status_code == 404
    assert client.get("/openapi.json").status_code == 404  # the schema is not served


def _schema(app):
    schema = schemathesis.openapi.from_dict(app.openapi())
    ops = [o.ok() for o in schema.get_all_operations()]
    covered = {(o.method.upper(), o.path) for o in ops}
    table = {(m, r.path) for r in _api_routes(app) if isinstance(r, APIRoute) for m in r.methods}
    assert covered == table  # every HTTP route is in the schema, so every route is fuzzed
    return ops


def _cases(op):
    """Requests that fit the schema and, where the operation has inputs to break, requests that do not."""
    from schemathesis.generation.modes import GenerationMode

    has_inputs = bool(op.path_parameters or op.query or op.body)
    if not has_inputs:
        return op.as_strategy()
    return st.one_of(op.as_strategy(), op.as_strategy(GenerationMode.NEGATIVE))


def test_fuzz_every_operation_from_the_openapi_schema(client):
    failures = []
    for op in _schema(client.app):
        d = _doc(client)

        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=_cases(op), real=st.booleans(), node=st.sampled_from(["src", "flt"]),
               port=st.sampled_from(["table", "0", "1"]))
        def fuzz(case, real, node, port):
            params = dict(case.path_parameters or {})
            if real:  # half the examples reach a real document, node and port
                params.update({k: v for k, v in {"doc_id": d, "nid": node, "port": port}.items() if k in params})
            path = re.sub(r"\{(\w+)\}", lambda m: str(params[m[1]]), op.path)
            body = case.body if not isinstance(case.body, type(schemathesis.core.NOT_SET)) else None
            if isinstance(body, (bytes, str)):  # negative cases may be raw bytes of any media type
                kw = {"content": body, "headers": {**H, "Content-Type": case.media_type or "application/json"}}
            else:
                kw = {"json": body} if body is not None else {}
            kw.setdefault("headers", H)
            r = client.request(op.method.upper(), path, params=case.query or None, **kw)
            if r.status_code >= 500:
                failures.append((op.method.upper(), path, case.query, body, r.status_code, r.text[:300]))
            elif r.status_code >= 400:
                assert isinstance(r.json().get("error"), str) and r.json()["error"], r.text
            _wait_idle(client, d)

        fuzz()
        client.app.state.docs.by_id.pop(d, None)
    assert not failures, failures[:5]


def test_a_server_bug_is_still_one_sentence(tmp_path, capsys):
    """Should a route fail (a bug, not bad input), the editor still gets a sentence and the log one line."""
    app = create_app(tmp_path, TOKEN)

    @app.get("/api/test-bug")
    def bug():
        raise RuntimeError("kaput")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/test-bug", headers=H)
    assert r.status_code == 500 and "RuntimeError: kaput" in r.json()["error"]
    err = capsys.readouterr().err
    assert "GET /api/test-bug failed: RuntimeError: kaput" in err and "Traceback" not in err
