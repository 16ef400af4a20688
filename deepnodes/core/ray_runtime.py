"""The one place DeepNodes connects to Ray (distributed training, parallel parameter search).

    session = ray_session(ctx, address)        # in a node's execute: connected for the rest of the run
    ray = session.ray                           # the imported module

- `require_ray(option)` imports `ray` or raises one `NodeError` sentence naming the option and the extra
  (pip install "deepnodes[ray]").
- `connect(address)`: an already-initialised Ray in this process is reused as it is (and never shut down by us);
  `''` starts a local Ray bound to 127.0.0.1 with the available cores (no dashboard, no usage statistics,
  errors only, workers' output and the raylet's messages not echoed, worker processes at the caller's priority
  (Ray's default nice 15 starved them beside other work) and given 300 s to register and to start a Train worker
  group on a busy machine: with the defaults (60 s) a loaded 2-core machine killed and restarted slow workers
  again and again, or failed a training before its first step); `'auto'`, `'ray://host:port'` or `'host:port'` connect to an
  existing cluster. The workers must import deepnodes: a local Ray runs this interpreter (an installed or
  editable deepnodes imports as here; the folder holding the package goes on PYTHONPATH for a source checkout);
  a remote cluster gets the package shipped as `py_modules` unless `DEEPNODES_RAY_SHIP_CODE=0` (deepnodes
  installed on the cluster's nodes).
- Who shuts down: the connection `connect` opened is closed by `RaySession.close()`; `ray_session(ctx, ...)`
  registers that with the run's resources, so a Ray this run started (or connected to) is shut down when the run
  ends, fails or is cancelled. A Ray initialised before (a test fixture, a notebook, the caller) stays up.
- A local Ray this process starts also sets, unless already set, `LOCAL_TRAIN_ENV` (for every Ray Train run
  while it is up; `close()` takes them back): the Train controller polls its workers every 0.25 s instead of 2 s
  (the end of a run is seen at the next poll), a worker group may take 300 s to start, and no preemption watcher (an actor process per run) or Ray
  Train metrics (no dashboard reads them): one machine is never preempted.
- `storage_folder(ctx, name)`: a local folder for Ray's checkpoints/results (`DEEPNODES_RAY_STORAGE` or the
  system temp folder), never the working folder.
Torch-free and ray-free at import.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .node import NodeError

EXTRA = 'pip install "deepnodes[ray]"'
_ADDRESS = re.compile(r"^(auto|ray://[\w.\-]+(:\d+)?|[\w.\-]+:\d+)$")
_lock = threading.Lock()
LOCAL_TRAIN_ENV = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.25", "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
                   "RAY_TRAIN_METRICS_ENABLED": "0", "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "300"}
# a local Ray's system settings: its worker processes (the training itself) run at the caller's priority, not
# Ray's default nice 15 (beside other work on a small machine they starved, and their group start timed out),
# and get 300 s to register
LOCAL_SYSTEM_CONFIG = {"worker_register_timeout_seconds": 300, "worker_niceness": 0}


def require_ray(option: str = "backend"):
    """The `ray` module, or a sentence naming the option that asked for it and the extra to install."""
    try:
        import ray  # noqa: PLC0415
        import ray.train  # noqa: F401, PLC0415 - the extra installs train and tune; both must be there
    except ImportError:
        raise NodeError(f"option '{option}' is 'ray', but Ray is not installed; install it with {EXTRA}") from None
    return ray


def check_address(address: str, option: str = "address") -> str:
    """'' (start a local Ray), 'auto', 'ray://host:port' or 'host:port'; anything else is a sentence."""
    a = (address or "").strip()
    if a and not _ADDRESS.match(a):
        raise NodeError(f"option '{option}' must be empty (start a local Ray), 'auto' or 'ray://host:port'; "
                        f"got {a[:200]!r}")
    return a


def _package_parent() -> str:
    return str(Path(__file__).resolve().parents[2])


def runtime_env(address: str) -> dict:
    """What the workers need to import deepnodes (see the module docstring)."""
    if address:
        if os.environ.get("DEEPNODES_RAY_SHIP_CODE", "1") == "0":
            return {}
        return {"py_modules": [str(Path(__file__).resolve().parents[1])],
                "env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}}
    parent = _package_parent()
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join([parent] + [p for p in path if p != parent]),
                         **{k: os.environ.get(k, v) for k, v in LOCAL_TRAIN_ENV.items()}}}


@dataclass
class RaySession:
    ray: Any
    address: str
    owned: bool  # True: connect() initialised Ray and close() shuts it down
    info: dict = field(default_factory=dict)
    env_set: list = field(default_factory=list)  # the LOCAL_TRAIN_ENV variables connect() set

    @property
    def cpus(self) -> int:
        return int(self.ray.cluster_resources().get("CPU", 1))

    @property
    def gpus(self) -> int:
        return int(self.ray.cluster_resources().get("GPU", 0))

    def close(self) -> None:
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()
        for k in self.env_set:
            os.environ.pop(k, None)
        self.owned, self.env_set = False, []


def connect(address: str = "", *, option: str = "address", backend_option: str = "backend",
            num_cpus: int | None = None) -> RaySession:
    """Connect to Ray as described in the module docstring. Failing to reach a cluster is one sentence."""
    ray = require_ray(backend_option)
    address = check_address(address, option)
    with _lock:
        if ray.is_initialized():
            return RaySession(ray, address, owned=False)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        kw: dict[str, Any] = dict(logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False,
                                  runtime_env=runtime_env(address), configure_logging=True)
        env_set: list[str] = []
        if address:
            kw.pop("include_dashboard")
            target = address
        else:
            target = "local"
            kw.update(num_cpus=num_cpus or os.cpu_count() or 1, _node_ip_address="127.0.0.1",
                      _system_config=dict(LOCAL_SYSTEM_CONFIG))
            env_set = [k for k in LOCAL_TRAIN_ENV if k not in os.environ]
            os.environ.update({k: LOCAL_TRAIN_ENV[k] for k in env_set})
        try:
            info = _init(ray, target, kw, retry=not address)
        except Exception as e:  # noqa: BLE001 - Ray raises bare Exceptions too (a raylet slow to start)
            for k in env_set:
                os.environ.pop(k, None)
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            where = f"the Ray cluster at {address!r}" if address else "a local Ray"
            raise NodeError(f"option '{option}': could not connect to {where}: {first}") from None
        _route_raylet_messages()
        return RaySession(ray, address, owned=True, info=dict(getattr(info, "address_info", {}) or {}),
                          env_set=env_set)


def _init(ray, target: str, kw: dict, retry: bool):
    """`ray.init`; a local start that timed out (on a busy machine the raylet gives up waiting ~20 s for its
    agent's port file, a wait no option lengthens) is cleaned up and tried once more, with the files now cached."""
    try:
        return ray.init(address=target, **kw)
    except Exception as e:  # noqa: BLE001
        if not retry or "timed out" not in str(e):
            raise
        ray.shutdown()
        return ray.init(address=target, **kw)


def _route_raylet_messages() -> None:
    """Ray's driver prints the raylet's messages (a worker that died, one slow to start) to stdout whatever
    `log_to_driver` says; they go to the `ray` logger instead (errors only, see `connect`): what failed reaches
    the user as the node's sentence ("a worker failed; Ray restarted the workers, ..."), not as Ray's text."""
    try:
        import ray._private.worker as rw  # noqa: PLC0415
    except ImportError:
        return
    real = getattr(rw, "print_to_stdstream", None)
    if real is None or getattr(real, "deepnodes_routed", False):
        return

    def routed(data, ignore_prefix: bool = False):
        if data.get("pid") != "raylet":
            return real(data, ignore_prefix)
        for line in data.get("lines") or []:
            logging.getLogger("ray").warning("(raylet) %s", line)

    routed.deepnodes_routed = True
    rw.print_to_stdstream = routed


def ray_session(ctx, address: str = "", *, option: str = "address", backend_option: str = "backend") -> RaySession:
    """`connect` for a node: the connection it opens is closed when the run ends (`ctx.resources`)."""
    s = connect(address, option=option, backend_option=backend_option)
    if s.owned:
        res = getattr(ctx, "resources", None)
        if res is not None:
            res.on_end("ray", s.close)
    return s


def storage_folder(name: str) -> str:
    """A folder for Ray's run storage (checkpoints, results): `DEEPNODES_RAY_STORAGE` or <temp>/deepnodes-ray,
    one sub-folder per `name`. Never the working folder."""
    base = os.environ.get("DEEPNODES_RAY_STORAGE") or os.path.join(tempfile.gettempdir(), "deepnodes-ray")
    p = Path(base).expanduser().resolve() / re.sub(r"[^\w.\-]", "_", name)[:120]
    p.mkdir(parents=True, exist_ok=True)
    return str(p)


__all__ = ["EXTRA", "RaySession", "check_address", "connect", "ray_session", "require_ray", "runtime_env",
           "storage_folder"]
