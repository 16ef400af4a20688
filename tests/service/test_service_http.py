"""`deepnodes serve-workflow` through real HTTP on 127.0.0.1: predictions equal the trained network's, bad requests
are one sentence with a 4xx, concurrent clients each get their own answer, metrics count them."""
from __future__ import annotations

import base64
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("prometheus_client")

sys.path.insert(0, str(Path(__file__).parent))
from digits_service import build, digit_images, png_b64  # noqa: E402
from service_http_util import CLI, ENV, TOKEN, free_port, post, reference, start, stop  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("svc")
    wf = d / "digits.json"
    build().save(wf)
    r = subprocess.run(CLI + ["run", str(wf), "--save-results", "--quiet"], env=ENV, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return wf


@pytest.fixture(scope="module")
def service(trained):
    proc, url = start(trained, "--token", TOKEN)
    yield url
    stop(proc)


def test_predictions_are_the_trained_networks(service, trained):
    imgs, _ = digit_images(12)
    r = post(service, {"rows": [{"image": png_b64(i)} for i in imgs]})
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    classes, probs = reference(trained, imgs)
    assert [row["prediction"] for row in rows] == classes
    np.testing.assert_allclose([row["probability"] for row in rows], probs, atol=1e-5)
    assert set(rows[0]) == {"prediction", "probability"}


def test_multipart_upload_gives_the_same_answer(service, trained):
    imgs, _ = digit_images(3)
    from deepnodes.table.arrow import encode_png

    files = [("image", (f"d{i}.png", encode_png(img), "image/png")) for i, img in enumerate(imgs)]
    r = httpx.post(service + "/predict", files=files, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert r.status_code == 200, r.text
    assert [row["prediction"] for row in r.json()["rows"]] == reference(trained, imgs)[0]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


BAD = [  # (body, status, words the one sentence must hold)
    ({"rows": [{"img": "x"}]}, 422, ["row 0", "'image'"]),
    ({"rows": [{"image": 3}]}, 422, ["row 0", "'image'", "base64"]),
    ({"rows": [{"image": "%%%"}]}, 422, ["row 0", "'image'", "base64"]),
    ({"rows": [{"image": _b64(b"hello, not an image")}]}, 422, ["row 0", "'image'", "not a PNG or JPEG"]),
    ({"rows": "image"}, 422, ["'rows'", "list"]),
    ({"rows": []}, 422, ["empty"]),
    ({"data": []}, 422, ['"rows"']),
    ({"rows": [{"image": None}]}, 422, ["row 0", "'image'", "null"]),
    (b'{"rows": [', 400, ["not valid JSON"]),
    (b'{"rows": [{"image": NaN}]}', 400, ["NaN"]),
]


@pytest.mark.parametrize("body,status,words", BAD)
def test_bad_requests_are_one_sentence(service, body, status, words):
    r = post(service, body)
    assert r.status_code == status, r.text
    msg = r.json()["error"]
    assert "\n" not in msg and "Traceback" not in msg
    for w in words:
        assert w.lower() in msg.lower(), msg


def test_shape_rows_token_and_size_are_checked(service):
    imgs, _ = digit_images(2)
    good = {"image": png_b64(imgs[0])}
    r = post(service, {"rows": [good, {"image": png_b64(np.zeros((9, 8)))}]})
    assert r.status_code == 422 and "row 1" in r.json()["error"] and "9×8" in r.json()["error"]
    r = post(service, {"rows": [good] * 65})
    assert r.status_code == 413 and "65 rows" in r.json()["error"] and "64" in r.json()["error"]
    r = post(service, b'{"rows": [{"image": "' + b"A" * (17 * 2 ** 20) + b'"}]}')
    assert r.status_code == 413 and "larger than 16 MiB" in r.json()["error"]
    assert post(service, {"rows": [good]}, token=None).status_code == 401
    assert post(service, {"rows": [good]}, token="wrong").status_code == 401
    assert post(service, {"rows": [good]}).status_code == 200  # the service still answers


def test_concurrent_clients_each_get_their_own_answer(service, trained):
    imgs, _ = digit_images(32)
    classes, probs = reference(trained, imgs)
    before = _metric(service, 'deepnodes_service_requests_total{status="2xx"}')

    def one(i):
        r = post(service, {"rows": [{"image": png_b64(imgs[i])}]})
        return i, r.status_code, r.json()["rows"][0]

    with ThreadPoolExecutor(32) as pool:
        got = list(pool.map(one, [i % 32 for i in range(96)]))
    for i, status, row in got:
        assert status == 200
        assert row["prediction"] == classes[i]
        assert abs(row["probability"] - probs[i]) < 1e-5
    assert _metric(service, 'deepnodes_service_requests_total{status="2xx"}') == before + 96
    assert _metric(service, "deepnodes_service_request_seconds_count") >= 96
    assert _metric(service, "deepnodes_service_batch_rows_count") >= 1


def _metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_schema_and_openapi_describe_the_request_exactly(service):
    h = {"Authorization": f"Bearer {TOKEN}"}
    s = httpx.get(service + "/schema", headers=h, timeout=10).json()
    item = s["input"]["properties"]["rows"]["items"]
    assert item["required"] == ["image"] and item["properties"]["image"]["contentEncoding"] == "base64"
    assert s["input"]["properties"]["rows"]["maxItems"] == 64
    assert set(s["output"]["properties"]["rows"]["items"]["properties"]) == {"prediction", "probability"}
    api = httpx.get(service + "/openapi.json", headers=h, timeout=10).json()
    body = api["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == s["input"] and body["example"] == s["example"]
    ok = api["paths"]["/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == s["output"]
    assert post(service, s["example"]).status_code == 200  # the documented example is a valid request


def test_missing_result_names_the_node_and_run_first_runs_it(tmp_path):
    wf = tmp_path / "fresh.json"
    build().save(wf)
    r = subprocess.run(CLI + ["serve-workflow", str(wf), "--port", str(free_port())], env=ENV,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "node 'learner' (Network Learner) has no saved result" in r.stderr and "--run-first" in r.stderr
    assert "Traceback" not in r.stderr
    proc, url = start(wf, "--run-first")
    try:
        imgs, _ = digit_images(2)
        r = post(url, {"rows": [{"image": png_b64(i)} for i in imgs]}, token=None)
        assert r.status_code == 200 and len(r.json()["rows"]) == 2
    finally:
        stop(proc)
    assert (tmp_path / "fresh.results" / "results.json").is_file()


def test_a_failing_node_is_a_500_and_the_service_keeps_running(tmp_path):
    """A segment that is not row-wise (a Python Script) runs per request through the engine; its failure on one
    request's data is a 500 naming the node, and the next request is answered."""
    from deepnodes.core import Workflow, registry

    registry.discover()
    wf = Workflow("scripted service")
    wf.add("deepnodes.service.ServiceInput", "request", {
        "columns": [{"name": "x", "kind": "number"}, {"name": "word", "kind": "category", "categories": ["a", "b"]}],
        "example": {"x": 1.0, "word": "a"}})
    wf.add("deepnodes.python.PythonScript", "script", {"script": (
        "df = input_table.copy()\n"
        "if (df['x'] < 0).any():\n"
        "    raise ValueError('x must not be negative')\n"
        "df['y'] = df['x'] * 2 + len(df)\n"
        "output_table = df[['y']]\n")})
    wf.add("deepnodes.service.ServiceOutput", "response", {})
    wf.connect("request", "table", "script", "table")
    wf.connect("script", "table", "response", "table")
    path = tmp_path / "scripted.json"
    wf.save(path)
    proc, url = start(path, "--run-first")
    try:
        r = post(url, {"rows": [{"x": 2, "word": "b"}, {"x": 3.5, "word": "a"}]}, token=None)
        assert r.status_code == 200 and r.json()["rows"] == [{"y": 6.0}, {"y": 9.0}]  # per request: len(df) == 2
        r = post(url, {"rows": [{"x": -1, "word": "a"}]}, token=None)
        assert r.status_code == 500 and "node 'script'" in r.json()["error"] and "negative" in r.json()["error"]
        r = post(url, {"rows": [{"x": 1, "word": "c"}]}, token=None)
        assert r.status_code == 422 and "'word'" in r.json()["error"] and "'c'" in r.json()["error"]
        r = post(url, {"rows": [{"x": True, "word": "a"}]}, token=None)
        assert r.status_code == 422 and "expected a number" in r.json()["error"]
        assert post(url, {"rows": [{"x": 1, "word": "a"}]}, token=None).json()["rows"] == [{"y": 3.0}]
    finally:
        stop(proc)


def test_workers_share_the_socket_and_their_metrics_add_up(trained):
    proc, url = start(trained, "--workers", "2", "--token", TOKEN)
    try:
        imgs, _ = digit_images(8)
        classes, _ = reference(trained, imgs)
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda i: post(url, {"rows": [{"image": png_b64(imgs[i])}]}), range(8)))
        assert [r.json()["rows"][0]["prediction"] for r in got] == classes
        assert _metric(url, 'deepnodes_service_requests_total{status="2xx"}') == 8  # summed over both processes
    finally:
        stop(proc)
