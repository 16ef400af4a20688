"""One H2O cluster per process, started on demand and shared by the H2O nodes of a run.

    s = acquire(SessionOptions(max_mem_size="1G", nthreads=2), resources=ctx.resources, progress=...)

`acquire` starts a local H2O (a JVM bound to 127.0.0.1; about 9 s here) or connects to the cluster at
`url`, and reuses it while it answers. A run's resources (`deepnodes.core.resources.RunResources`, set by
the engine on the execution context) release it when the run ends; the last release shuts a cluster we
started down, unless `keep_between_runs()` was called (the editor's server) or Python code acquired it
outside a run (`resources=None`: it is kept until `shutdown()` or the process ends). A session that died (its
JVM killed) is noticed on the next `acquire`, which starts a new one; a node that was using it gets an
`H2OError` sentence from `translate_errors`.
"""
from __future__ import annotations

import atexit
import contextlib
import io
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

#: seconds a local H2O took to start on this machine (shown in the node's progress)
START_SECONDS = 9


class H2OError(RuntimeError):
    """A problem with H2O itself, worded as one sentence: no Java, a port taken, a session that stopped."""


@dataclass(frozen=True)
class SessionOptions:
    url: str = ""              # an existing cluster (http://host:port); empty = start a local one
    max_mem_size: str = "1G"   # the JVM's -Xmx
    nthreads: int = 2          # H2O's worker threads (-1 = all cores)
    port: int = 0              # 0 = the first free port from 54321

    def describe(self) -> str:
        return self.url or f"local H2O ({self.max_mem_size}, {self.nthreads} threads)"


def memory_bytes(text: str, option: str = "max_mem_size") -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[bB]?\s*", text or "")
    if not m:
        raise ValueError(f"option '{option}' '{text}' is not a memory size such as '1G' or '512M'")
    n = int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]
    if n < 1 << 27:
        raise ValueError(f"option '{option}' '{text}' is too small; H2O needs at least 128M")
    return n


class Session:
    """A connection to one H2O cluster; `server` is the local JVM when this process started it."""

    def __init__(self, options: SessionOptions, url: str, server=None, ice_root: str | None = None,
                 generation: int = 0):
        self.options = options
        self.url = url
        self.server = server
        self.ice_root = ice_root
        self.generation = generation
        self.pinned = False  # acquired outside a run (Python code): kept until `shutdown()`
        self.watchdog = _watch_parent(self.pid) if self.pid else None

    @property
    def pid(self) -> int | None:
        proc = getattr(self.server, "_process", None)
        return proc.pid if proc is not None else None

    def describe(self) -> str:
        return f"the H2O session at {self.url}" + (f" (JVM pid {self.pid})" if self.pid else "")

    def alive(self) -> bool:
        proc = getattr(self.server, "_process", None)
        if self.server is not None and (proc is None or proc.poll() is not None):
            return False
        try:
            import h2o

            h2o.connection().request("GET /3/Ping")
            return True
        except Exception:  # noqa: BLE001 - any failure to answer means the session is gone
            return False

    def close(self) -> None:
        import h2o

        if self.watchdog is not None:
            with contextlib.suppress(Exception):
                self.watchdog.kill()
                self.watchdog.wait(5)

        with contextlib.suppress(Exception):
            h2o.connection().close()
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.shutdown()
        if self.ice_root:
            shutil.rmtree(self.ice_root, ignore_errors=True)


_lock = threading.RLock()
_session: Session | None = None
_users: set[int] = set()
_keep = False
_generation = 0


def keep_between_runs(flag: bool = True) -> None:
    """Keep the session after a run ends (the editor's server); it stops when the process ends."""
    global _keep
    _keep = flag


def current() -> Session | None:
    """The session of this process if it is still answering, else None (nothing is started)."""
    with _lock:
        return _session if _session is not None and _session.alive() else None


def acquire(options: SessionOptions, resources=None, progress: Callable[[str], None] | None = None,
            log: Callable[[str], None] | None = None) -> Session:
    """The running session (started or connected first if needed), held until `resources` ends its run."""
    global _session
    log = log or (lambda line: None)
    with _lock:
        s = _session
        if s is not None and not s.alive():
            log(f"{s.describe()} had stopped; starting a new one")
            _drop()
            s = None
        if s is not None and s.options != options:
            others = _users - ({id(resources)} if resources is not None else set())
            if others:
                raise H2OError(f"{s.describe()} runs with other session options ({s.options.describe()}) and is in "
                               f"use by another run; give the H2O nodes the same session options")
            if s.pinned:
                raise H2OError(f"{s.describe()} runs with other session options ({s.options.describe()}) and is held "
                               f"by Python code; use the same options, or call deepnodes.h2o.session.shutdown() first")
            log(f"session options changed to {options.describe()}; replacing {s.describe()}")
            _drop()
            s = None
        if s is None:
            s = _session = _open(options, progress, log)
        if resources is None:
            s.pinned = True
        elif id(resources) not in _users:
            _users.add(id(resources))
            resources.on_end("deepnodes.h2o.session", lambda token=id(resources): release(token))
        return s


def release(token: int) -> None:
    """A run is done with the session; the last one out stops a cluster this process started."""
    with _lock:
        _users.discard(token)
        if not _users and not _keep and _session is not None and _session.server is not None \
                and not _session.pinned:
            _drop()


def shutdown() -> None:
    """Stop the session (a local cluster is shut down; an external one is only disconnected)."""
    with _lock:
        _users.clear()
        if _session is not None:
            _drop()


atexit.register(shutdown)


def _drop() -> None:
    global _session
    s, _session = _session, None
    if s is not None:
        s.close()


def _watch_parent(jvm_pid: int):
    """A tiny shell loop that kills the JVM if this process dies without shutting it down (a kill -9, a crash):
    H2O starts its JVM in a session of its own, so it would otherwise outlive us and keep its memory."""
    if os.name != "posix" or not shutil.which("sh"):
        return None
    script = f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; kill -9 {int(jvm_pid)} 2>/dev/null"
    return subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def find_java() -> str:
    """The java executable H2O would use; an `H2OError` sentence when there is none."""
    from h2o.backend import H2OLocalServer
    from h2o.exceptions import H2OStartupError

    try:
        java = H2OLocalServer._find_java()
        with contextlib.redirect_stdout(io.StringIO()):
            H2OLocalServer._check_java(java, False)
    except (H2OStartupError, OSError) as e:
        raise H2OError("H2O needs Java (version 8 or newer) and none was found: install a JDK or set JAVA_HOME "
                       f"({str(e).strip().splitlines()[0][:160] if str(e).strip() else 'no java'})") from None
    return java


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _open(options: SessionOptions, progress, log) -> Session:
    global _generation
    import h2o
    from h2o.backend import H2OLocalServer
    from h2o.exceptions import H2OConnectionError, H2OError as _H2OLibError

    h2o.no_progress()
    _generation += 1
    out = io.StringIO()
    if options.url:
        if progress:
            progress(f"connecting to the H2O cluster at {options.url}")
        try:
            with contextlib.redirect_stdout(out):
                h2o.connect(url=options.url, verbose=False)
        except (H2OConnectionError, _H2OLibError, OSError) as e:
            raise H2OError(f"no H2O cluster answers at {options.url} (option 'cluster_url'): "
                           f"{_first_line(e)}") from None
        _log_lines(out, log)
        return Session(options, options.url, None, None, _generation)
    find_java()
    mem = memory_bytes(options.max_mem_size)
    if options.port:
        for p in (options.port, options.port + 1):  # H2O also listens on port + 1 inside the cluster
            if not _port_free(p):
                raise H2OError(f"port {p} on 127.0.0.1 is taken by another program (option 'port' {options.port}); "
                               f"choose another port, or 0 for the first free one")
    if progress:
        progress(f"starting H2O on 127.0.0.1 ({options.max_mem_size}, {options.nthreads} threads; "
                 f"takes about {START_SECONDS} s)")
    ice = tempfile.mkdtemp(prefix="deepnodes-h2o-")
    try:
        with contextlib.redirect_stdout(out):
            server = H2OLocalServer.start(nthreads=options.nthreads, max_mem_size=mem, ice_root=ice,
                                          port=str(options.port) if options.port else "54321+",
                                          verbose=False, bind_to_localhost=True)
            h2o.connect(server=server, verbose=False)
    except Exception as e:  # noqa: BLE001 - whatever stopped the JVM, the user gets one sentence
        shutil.rmtree(ice, ignore_errors=True)
        raise H2OError(f"H2O did not start on 127.0.0.1: {_first_line(e)}") from None
    _log_lines(out, log)
    s = Session(options, f"http://127.0.0.1:{server.port}", server, ice, _generation)
    log(f"started {s.describe()}")
    return s


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def _log_lines(out: io.StringIO, log) -> None:
    for line in out.getvalue().splitlines():
        # the version age notice is left out: DeepNodes pins the h2o version on purpose
        if line.strip() and "There may be a newer version" not in line and "latest_stable" not in line:
            log(line.strip())


_CONNECTION_ERRORS: tuple[type[BaseException], ...] | None = None


def _connection_errors() -> tuple[type[BaseException], ...]:
    global _CONNECTION_ERRORS
    if _CONNECTION_ERRORS is None:
        import requests
        from h2o.exceptions import H2OConnectionError, H2OServerError

        _CONNECTION_ERRORS = (H2OConnectionError, H2OServerError, requests.ConnectionError, ConnectionError)
    return _CONNECTION_ERRORS


@contextlib.contextmanager
def translate_errors(session: Session, what: str) -> Iterator[None]:
    """H2O's exceptions as one sentence: a stopped session, or H2O refusing the options or data."""
    from h2o.exceptions import H2OJobCancelled, H2OResponseError, H2OValueError

    from deepnodes.core.node import Cancelled

    try:
        yield
    except H2OJobCancelled:
        raise Cancelled() from None
    except H2OResponseError as e:
        raise H2OError(f"H2O refused {what}: {_response_message(e)}") from None
    except H2OValueError as e:
        raise H2OError(f"H2O refused {what}: {_first_line(e)}") from None
    except (OSError, *_connection_errors()) as e:  # a failed H2O job is an OSError with H2O's message
        if not session.alive():
            with _lock:
                if _session is session:
                    _drop()
            raise H2OError(f"{session.describe()} stopped while {what}; run again to start a new session") from None
        if isinstance(e, _connection_errors()):
            raise H2OError(f"H2O did not answer while {what}: {_first_line(e)}") from None
        raise H2OError(f"H2O failed while {what}: {_first_line(e)}") from None


@contextlib.contextmanager
def cancel_jobs_when(should_stop: Callable[[], bool] | None, prefix: str) -> Iterator[None]:
    """While the block runs, cancel the cluster's running jobs whose result is named `prefix...` as soon as
    `should_stop()` is true (a run's Cancel); the blocked H2O call then ends with `Cancelled`."""
    if should_stop is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        import h2o

        while not done.wait(0.5):
            if not should_stop():
                continue
            hit = False
            with contextlib.suppress(Exception):  # the job may have just finished, or the cluster gone
                for job in h2o.api("GET /3/Jobs")["jobs"]:
                    dest = ((job.get("dest") or {}).get("name") or "")
                    if job.get("status") == "RUNNING" and dest.startswith(prefix):
                        h2o.api(f"POST /3/Jobs/{job['key']['name']}/cancel")
                        hit = True
            if hit:
                return

    t = threading.Thread(target=watch, name="deepnodes-h2o-cancel", daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join(2)


def _response_message(e: BaseException) -> str:
    err = e.args[0] if e.args else None
    msg = getattr(err, "msg", None) or getattr(err, "exception_msg", None)
    if msg:
        return str(msg).strip().splitlines()[0][:300]
    return _first_line(e)
