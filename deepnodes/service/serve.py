"""`deepnodes serve-workflow WORKFLOW.json`: check, load the saved results, bind the port, print the URL, serve.

The socket is bound before anything is printed (so the printed URL is the port really listening). With
`--workers N` > 1, uvicorn starts N processes on that socket; each loads the workflow and its saved results
itself (the arguments travel in an environment variable) and metrics are gathered across them through
prometheus-client's multi-process mode (a fresh folder set before the workers start).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ENV = "DEEPNODES_SERVICE_ARGS"


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def load_segment(workflow: str, run_first: bool = False, device: str | None = None, shown: str = ""):
    """The served segment of a workflow file, its results read from WORKFLOW.results/ (ServiceError, WorkflowError)."""
    from deepnodes.core import Workflow

    from .segment import Segment

    wf = Workflow.load(workflow)
    return Segment(wf, Path(workflow).with_suffix(".results"), shown or workflow, run_first=run_first, device=device)


def build(opts: dict) -> Any:
    from .app import create_app

    seg = load_segment(opts["workflow"], opts.get("run_first", False), opts.get("device"), opts.get("shown", ""))
    return create_app(seg, opts.get("token"), max_batch=opts["max_batch"], max_wait_ms=opts["max_wait_ms"],
                      max_body=opts["max_body"], fast=opts.get("fast", True))


def worker_app():
    """The app of one worker process (uvicorn factory, `--workers` > 1)."""
    return build(json.loads(os.environ[ENV]))


def serve_workflow(args: Any) -> int:
    import uvicorn

    from deepnodes.core import WorkflowError
    from deepnodes.server.limits import guarded_protocol
    from deepnodes.server.serve import HOSTS_LOCAL, bind

    host, port = str(args.host), int(args.port)
    if not Path(args.workflow).is_file():
        return _fail(f"there is no workflow file '{args.workflow}'")
    if args.token is not None and not args.token.strip():
        return _fail("--token must not be empty; use --no-token for a service without one")
    if args.token is None and not args.no_token and host not in HOSTS_LOCAL:
        return _fail(f"serving on {host}: choose --token TOKEN (clients send 'Authorization: Bearer TOKEN') "
                     "or --no-token")
    if not 1 <= args.workers <= 64:
        return _fail(f"--workers {args.workers} must be between 1 and 64")
    if args.max_batch < 1 or args.max_wait_ms < 0:
        return _fail("--max-batch must be at least 1 and --max-wait-ms at least 0")
    opts = {"workflow": str(Path(args.workflow).resolve()), "shown": args.workflow, "token": None if args.no_token else args.token,
            "max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "max_body": MAX_BODY_MB * 2 ** 20,
            "device": None if args.device in (None, "auto") else args.device, "fast": not args.no_fast_path}
    try:
        app = build({**opts, "run_first": args.run_first})  # checks the workflow and its results (and runs first)
        sock = bind(host, port)
    except (WorkflowError, ValueError) as e:
        return _fail(str(e))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{sock.getsockname()[1]}"
    auth = f" (send 'Authorization: Bearer {opts['token']}')" if opts["token"] else ""
    print(f"DeepNodes service for '{app.title.split(' (DeepNodes')[0]}': POST {url}/predict{auth}; "
          f"docs {url}/docs", flush=True)
    if args.workers == 1:
        config = uvicorn.Config(app, log_level="warning", http=guarded_protocol("httptools"))
        uvicorn.Server(config).run(sockets=[sock])
        return 0
    import tempfile

    os.environ[ENV] = json.dumps(opts)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="deepnodes-metrics-")
    del app
    config = uvicorn.Config("deepnodes.service.serve:worker_app", factory=True, workers=args.workers,
                            log_level="warning", http="deepnodes.service.protocol:GuardedH11")
    from uvicorn.supervisors import Multiprocess

    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        import shutil

        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    return 0


MAX_BODY_MB = 16


def add_parser(sub) -> None:
    s = sub.add_parser("serve-workflow", help="serve a workflow (Service Input → Service Output) over HTTP")
    s.add_argument("workflow", help="workflow JSON file with a Service Input and a Service Output node")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--token", default=None, help="clients must send 'Authorization: Bearer TOKEN'")
    s.add_argument("--no-token", action="store_true", help="no token (the default on 127.0.0.1)")
    s.add_argument("--workers", type=int, default=1, help="worker processes (each loads the results)")
    s.add_argument("--run-first", action="store_true", help="run and save the nodes whose results are missing")
    s.add_argument("--max-batch", type=int, default=32, help="most rows in one micro-batch (row-wise segments)")
    s.add_argument("--max-wait-ms", type=float, default=0.0,
                   help="how long a micro-batch waits for more requests (0: only those already queued)")
    s.add_argument("--no-fast-path", action="store_true",
                   help="run every request through the engine, even for a row-wise segment")
    s.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="device for deep-learning nodes")
