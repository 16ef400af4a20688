"""Workflow service against a hand-written FastAPI + ONNX Runtime endpoint on the same ONNX file, side by side.

    .venv/bin/python benchmarks/bench_service.py [--requests 300] [--rounds 2]

Trains the Fashion-MNIST service example's CNN on a slice (1 epoch, 2,000 images; the speed of a request does not
depend on the accuracy), saves it, then starts on 127.0.0.1: `deepnodes serve-workflow` (fast path, micro-batching),
the same with `--no-fast-path` (the engine per request: the cost of any workflow) and `benchmarks/service_baseline.py`
(the endpoint a user would write) on the ONNX file the Executor exported. A bounded load generator (one asyncio
process, raw HTTP/1.1 keep-alive connections) sends single-image requests at concurrency 1 and 32; rounds alternate
the servers. The last lines printed are the ratios against the baseline and the p50 difference.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLI = [sys.executable, "-m", "deepnodes.cli"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc) -> None:
    import httpx

    t0 = time.monotonic()
    while time.monotonic() - t0 < 180:
        if proc.poll() is not None:
            raise SystemExit(f"a server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            httpx.get(url + "/health", timeout=2)  # any answer (the baseline has no /health: 404) means up
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not start")


def train(folder: Path) -> Path:
    from deepnodes.core import Workflow, registry

    registry.discover()
    wf = Workflow.load(ROOT / "examples" / "image_classification_service.json")
    wf.set_option("train_data", "limit", 2000)
    wf.set_option("test_data", "limit", 200)
    wf.set_option("val_sample", "count", 100)
    wf.set_option("learner", "epochs", 1)
    path = folder / "service.json"
    wf.save(path)
    r = subprocess.run(CLI + ["run", str(path), "--save-results", "--quiet"], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(r.stderr)
    return path


def onnx_file(path: Path) -> tuple[Path, list[str]]:
    """The ONNX file the Executor runs (its export cache) and the class names."""
    from deepnodes.core import Engine, Workflow
    from deepnodes.dl.infer import cache_dir, onnx_session, weights_hash

    eng = Engine(Workflow.load(path))
    eng.load_results(path.with_suffix(".results"))
    net = eng.output("learner")
    onnx_session(net, [0], [])
    names = net.metadata["class_names"]
    names = names[0] if isinstance(names, list) and names and isinstance(names[0], list) else names
    names = list(names.values())[0] if isinstance(names, dict) else names
    return cache_dir() / f"{weights_hash(net, {'outputs': [0], 'layers': []})}.onnx", [str(n) for n in names]


def _request(url: str, body: bytes) -> bytes:
    """One HTTP/1.1 keep-alive POST /predict, as bytes on the wire."""
    host = url.split("//", 1)[1]
    return (f"POST /predict HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


async def _client(url: str, wire: list[bytes], first: int, n: int, lat: list[float]) -> None:
    """One connection sending `n` requests one after another; raw HTTP/1.1 (the answers carry Content-Length)."""
    import asyncio

    host, port = url.split("//", 1)[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for j in range(n):
            t0 = time.perf_counter()
            writer.write(wire[(first + j) % len(wire)])
            head = await reader.readuntil(b"\r\n\r\n")
            at = head.lower().index(b"content-length:") + 15
            body = await reader.readexactly(int(head[at:head.index(b"\r\n", at)]))
            lat.append(time.perf_counter() - t0)
            if head[9:12] != b"200":
                raise SystemExit(f"{url}: {head[:12].decode()} {body[:200].decode(errors='replace')}")
    finally:
        writer.close()


def load(url: str, bodies: list[bytes], concurrency: int, requests: int) -> dict:
    """`requests` single-image requests from `concurrency` keep-alive connections. The generator is one asyncio
    process (uvloop where installed) writing pre-built requests and reading answers by Content-Length, so it takes
    little of the CPU the servers share with it; the same generator measures every server."""
    import asyncio

    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    wire = [_request(url, b) for b in bodies]
    per = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]
    run(_gather(url, wire, [0], [min(20, requests)], []))  # warm-up: connection set-up, first requests
    lat: list[float] = []
    t0 = time.perf_counter()
    run(_gather(url, wire, [k * 7 for k in range(concurrency)], per, lat))
    wall = time.perf_counter() - t0
    lat.sort()
    return {"rps": len(lat) / wall, "p50": statistics.median(lat) * 1000, "p99": lat[int(len(lat) * 0.99) - 1] * 1000}


async def _gather(url: str, wire: list[bytes], firsts: list[int], per: list[int], lat: list[float]) -> None:
    import asyncio

    await asyncio.gather(*(_client(url, wire, f, n, lat) for f, n in zip(firsts, per)))


def batch_counts(url: str) -> tuple[float, float]:
    """(rows, segment runs) the service has counted so far (its /metrics batch-size histogram)."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=10).text
    cnt = {line.split()[0]: float(line.split()[-1]) for line in text.splitlines()
           if line.startswith(("deepnodes_service_batch_rows_count ", "deepnodes_service_batch_rows_sum "))}
    return cnt.get("deepnodes_service_batch_rows_sum", 0.0), cnt.get("deepnodes_service_batch_rows_count", 0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300, help="requests per measurement (bounded)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-engine", action="store_true", help="leave out the engine-per-request server")
    ap.add_argument("--variant", action="append", default=[], metavar="OPTIONS",
                    help="also measure the fast path served with these serve-workflow options (repeatable)")
    args = ap.parse_args()
    import base64

    import httpx

    from deepnodes.datasets.registry import load_dataset
    from deepnodes.table.arrow import encode_png, to_numpy

    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    t0 = time.perf_counter()
    path = train(tmp)
    model, classes = onnx_file(path)
    print(f"trained and saved in {time.perf_counter() - t0:.0f} s; ONNX file {model.name}")
    imgs = to_numpy(load_dataset("fashion-mnist", "test", None, 64).column("image"))[:, 0]
    bodies = [json.dumps({"rows": [{"image": base64.b64encode(encode_png(i)).decode()}]}).encode() for i in imgs]
    servers, procs = {}, []
    env = {**os.environ, "SERVICE_ONNX": str(model), "SERVICE_CLASSES": json.dumps(classes)}
    plan = [("service (fast path)", CLI + ["serve-workflow", str(path)]),
            ("service (engine per request)", CLI + ["serve-workflow", str(path), "--no-fast-path"]),
            ("baseline FastAPI + ORT", [sys.executable, "-m", "uvicorn", "benchmarks.service_baseline:app",
                                        "--log-level", "warning"])]
    if args.no_engine:
        plan = [p for p in plan if "engine" not in p[0]]
    for extra in args.variant:  # e.g. --variant "--workers 2": the fast path with other options, side by side
        plan.insert(1, (f"service (fast path {extra})"[:32], CLI + ["serve-workflow", str(path), *extra.split()]))
    load0 = os.getloadavg()
    for name, cmd in plan:
        port = free_port()
        p = subprocess.Popen(cmd + ["--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        procs.append(p)
        servers[name] = f"http://127.0.0.1:{port}"
    try:
        for url, p in zip(servers.values(), procs):
            wait_up(url, p)
        answers = {n: httpx.post(u + "/predict", content=bodies[0], headers={"content-type": "application/json"},
                                 timeout=60).json()["rows"][0] for n, u in servers.items()}
        print("same answer on image 0:", json.dumps(answers))
        print("fast path runner:", httpx.get(servers["service (fast path)"] + "/health", timeout=10).json().get("runner"))
        best: dict[tuple[str, int], dict] = {}
        fast_url = servers["service (fast path)"]
        batched = [0.0, 0.0]  # rows and segment runs of the fast path during its concurrency-32 measurements
        for r in range(args.rounds):
            order = list(servers) if r % 2 == 0 else list(reversed(servers))
            for conc in (1, 32):
                for name in order:
                    before = batch_counts(fast_url) if (name, conc) == ("service (fast path)", 32) else None
                    res = load(servers[name], bodies, conc, args.requests if conc == 1 else 2 * args.requests)
                    if before is not None:
                        batched = [a + b - c for a, b, c in zip(batched, batch_counts(fast_url), before)]
                    key = (name, conc)
                    if key not in best or res["rps"] > best[key]["rps"]:
                        best[key] = res
        print(f"\n{'server':32s} {'conc':>4s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s}   (best of {args.rounds} rounds)")
        for (name, conc), res in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            print(f"{name:32s} {conc:4d} {res['rps']:8.0f} {res['p50']:8.2f} {res['p99']:8.2f}")
        rows, runs = batched
        print(f"\nfast path at concurrency 32: {rows:.0f} rows in {runs:.0f} segment runs ({rows / max(runs, 1):.1f} "
              "rows per micro-batch on average)")
        print("load average (1, 5, 15 min) at the start: %.1f %.1f %.1f, at the end: %.1f %.1f %.1f"
              % (*load0, *os.getloadavg()))
        base = {c: best[("baseline FastAPI + ORT", c)] for c in (1, 32)}
        for name in [n for n in servers if n.startswith("service (fast path")]:
            fast = {c: best[(name, c)] for c in (1, 32)}
            print(f"{name} vs baseline: concurrency 1 {fast[1]['rps'] / base[1]['rps']:.2f}× (target ≥ 1.0×), "
                  f"concurrency 32 {fast[32]['rps'] / base[32]['rps']:.2f}× (target ≥ 2×); "
                  f"p50 at concurrency 1: {fast[1]['p50'] - base[1]['p50']:+.2f} ms vs baseline (target ≤ +1 ms)")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
