"""Helpers of the service tests: a `deepnodes serve-workflow` process on a free 127.0.0.1 port, requests, and the
trained network's own answer computed from the saved results (no service)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

CLI = [sys.executable, "-m", "deepnodes.cli"]
TOKEN = "service-token-1"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(workflow: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(CLI + ["serve-workflow", str(workflow), "--port", str(port), *extra], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:  # a hang detector, not a timing assertion (start-up imports torch: ~100 s at load 10-20)
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited: {proc.stderr.read()}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the service did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def reference(wf: Path, images: np.ndarray, learner: str = "learner") -> tuple[list[str], np.ndarray]:
    """The trained network's classes and probabilities computed directly from the saved results, no service."""
    from deepnodes.core import Engine, Workflow
    from deepnodes.dl.infer import predict

    eng = Engine(Workflow.load(wf))
    eng.load_results(wf.with_suffix(".results"))
    net = eng.output(learner)
    x = images.astype(np.float32)[:, None] / 255.0
    (probs,), _ = predict(net, [x], backend="torch")
    names = net.metadata["class_names"]
    names = names[0] if isinstance(names, list) and names and isinstance(names[0], list) else names
    names = list(names.values())[0] if isinstance(names, dict) else names
    return [str(names[i]) for i in probs.argmax(1)], probs.max(1)


def post(url, body, token=TOKEN, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, (bytes, str)):
        return httpx.post(url + "/predict", content=body, headers={**headers, "content-type": "application/json"},
                          timeout=60, **kw)
    return httpx.post(url + "/predict", json=body, headers=headers, timeout=60, **kw)
