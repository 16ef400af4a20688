"""TensorFlow work in a child process: the one place DeepNodes starts TensorFlow.

TensorFlow and torch in one process fight over threads and oneDNN, and importing TensorFlow costs seconds, so
the torch process never imports it. TensorFlow work runs in a child process (`python -m
deepnodes.dl.formats.tf_env`) that imports only numpy, this module, the job's module and TensorFlow:

    from deepnodes.dl.formats.tf_env import run_tf, TFWorker
    header, arrays = run_tf("deepnodes.dl.formats.savedmodel_jobs:describe", {"path": p}, timeout=120)
    with TFWorker(setup=("pkg.mod:load", {"path": p})) as w:     # a long-lived child: state kept between calls
        header, arrays = w.call("pkg.mod:predict", {}, {"x": x})

A job is a function `job(args: dict, arrays: dict[str, np.ndarray])` in a `deepnodes` module, returning a JSON
dict, or `(dict, arrays)`. Inside it, `tensorflow()` gives the module (quiet logs, thread counts set);
`tensorflow()` refuses to run anywhere but in the child. Messages between the processes are npz archives read
with `allow_pickle=False` (data, never code). A `ValueError` raised by a job comes back as a `TFError` with the
same sentence; any other failure, a crash or a child that runs past its time limit comes back as one sentence
too. Every call has a time limit; the child also ends itself (SIGALRM) if a call outlives it, and when the
parent closes its end of the pipe.
"""
from __future__ import annotations

import importlib
import importlib.util
import io
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import threading
import weakref
from pathlib import Path

import numpy as np

EXTRA = 'pip install "deepnodes[tensorflow]"'
#: seconds a call may take by default (the first call of a child includes TensorFlow's import, seconds)
TIMEOUT = 300.0
_CHILD_FLAG = "DEEPNODES_TF_CHILD"
_THREADS = "DEEPNODES_TF_THREADS"
_HEADER = "__header__"


class TFError(ValueError):
    """TensorFlow work failed, or the TensorFlow extra is missing (the message is one sentence)."""


def keep_tensorflow_out() -> None:
    """Tell the libraries that import TensorFlow by themselves when it is installed that it is absent in this
    (the torch) process: Keras on its torch backend (its `tf.available` checks, on every model save) and
    TensorBoard (its `compat.tf`, on `torch.utils.tensorboard` import; `tensorboard.compat.notf` is its own switch
    to the stub). Call it before using either; a no-op in the TensorFlow child."""
    if os.environ.get(_CHILD_FLAG) == "1":
        return
    import types

    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    if "keras" in sys.modules:
        from keras.src.utils import module_utils

        module_utils.tensorflow._available = module_utils.gfile._available = False


def require_tensorflow(what: str, tf2onnx: bool = False) -> None:
    """Raise `TFError` naming the extra when tensorflow (and, with `tf2onnx`, tf2onnx) is not installed; imports
    neither (only looks them up)."""
    missing = [m for m in ("tensorflow",) + (("tf2onnx",) if tf2onnx else ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise TFError(f"{what} needs TensorFlow ({' and '.join(missing)} not installed); install the extra: {EXTRA}")


def tensorflow():
    """The tensorflow module, for jobs running in the child process (refused anywhere else)."""
    if os.environ.get(_CHILD_FLAG) != "1":
        raise RuntimeError("tensorflow is imported only in DeepNodes' TensorFlow child process (tf_env.run_tf)")
    import warnings

    warnings.filterwarnings("ignore")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    n = int(os.environ.get(_THREADS) or 0)
    if n and not getattr(tensorflow, "_threads_set", False):
        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except RuntimeError:  # TensorFlow already ran something: its pools exist
            pass
        tensorflow._threads_set = True
    return tf


# ---------------------------------------------------------------- messages: 8-byte length + npz (no pickle)


def _pack(header: dict, arrays: dict | None = None) -> bytes:
    buf = io.BytesIO()
    payload = {k: np.asarray(v) for k, v in (arrays or {}).items()}
    payload[_HEADER] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(buf, **payload)
    data = buf.getvalue()
    return struct.pack("<Q", len(data)) + data


def _unpack(data: bytes) -> tuple[dict, dict]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays.pop(_HEADER).tobytes().decode())
    return header, arrays


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0][:300] if s else type(e).__name__


def _resolve(job: str):
    mod, _, fn = job.partition(":")
    if not (mod == "deepnodes" or mod.startswith("deepnodes.")) or not fn:
        raise ValueError(f"TensorFlow job {job!r} is not a function of a deepnodes module")
    return getattr(importlib.import_module(mod), fn)


def _child_main() -> None:  # the child's loop: one request in, one answer out, until stdin closes
    import signal

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a print or a library's chatter goes to the log, never into the protocol
    inp = sys.stdin.buffer
    while True:
        head = inp.read(8)
        if len(head) < 8:
            return
        (n,) = struct.unpack("<Q", head)
        header, arrays = _unpack(inp.read(n))
        signal.alarm(int(header.get("timeout", TIMEOUT)) + 5)  # ends the child if the parent cannot
        try:
            r = _resolve(header["job"])(header.get("args") or {}, arrays)
            h, a = r if isinstance(r, tuple) else (r, {})
            msg = _pack({"ok": True, "result": h}, a)
        except ValueError as e:
            msg = _pack({"ok": False, "error": _first_line(e)})
        except Exception as e:  # noqa: BLE001 - TensorFlow raises many types: one sentence back
            msg = _pack({"ok": False, "error": f"TensorFlow failed ({type(e).__name__}: {_first_line(e)})"})
        signal.alarm(0)
        out.write(msg)
        out.flush()


# ---------------------------------------------------------------- the parent side


def child_env(threads: int | None = None) -> dict:
    """The environment of a TensorFlow child (quiet logs, oneDNN off, Keras on TensorFlow, deepnodes importable)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update({_CHILD_FLAG: "1", "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0",
                "KERAS_BACKEND": "tensorflow", "PYTHONWARNINGS": "ignore"})
    if threads:
        env[_THREADS] = str(threads)
    return env


class TFWorker:
    """A long-lived TensorFlow child process. `setup`: a (job, args) run first in every child this worker starts
    (again after a child died or was stopped for its time limit), so state a job keeps survives restarts.
    Calls are serialised (one at a time); the child ends at `close()`, at exit, or when the worker is collected."""

    def __init__(self, setup: tuple[str, dict] | None = None, threads: int | None = None,
                 setup_timeout: float = TIMEOUT):
        self.setup, self.threads, self.setup_timeout = setup, threads, setup_timeout
        self._proc: subprocess.Popen | None = None
        self._log = None
        self._lock = threading.Lock()
        self.setup_result: dict | None = None

    # -- lifecycle
    def _start(self) -> None:
        require_tensorflow("running TensorFlow")
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([sys.executable, "-m", "deepnodes.dl.formats.tf_env"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._log, env=child_env(self.threads),
                                      start_new_session=True)
        self._finalizer = weakref.finalize(self, _stop, self._proc)
        if self.setup:
            self.setup_result, _ = self._call(self.setup[0], self.setup[1], None, self.setup_timeout)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._proc is not None:
            self._finalizer()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):  # a copy of a worker is a new worker (it starts its own child when called)
        return {"setup": self.setup, "threads": self.threads, "setup_timeout": self.setup_timeout}

    def __setstate__(self, d):
        self.__init__(**d)

    def __deepcopy__(self, memo):
        return TFWorker(self.setup, self.threads, self.setup_timeout)

    # -- calls
    def call(self, job: str, args: dict | None = None, arrays: dict | None = None,
             timeout: float = TIMEOUT, check=None) -> tuple[dict, dict]:
        """Run `job` in the child; returns (result dict, arrays). Raises `TFError` with one sentence. `check`: called
        a few times a second while the job runs (a node's `ctx.check_cancelled`); when it raises, the child is
        stopped and its exception goes on."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._stop()
                self._start()
            return self._call(job, args, arrays, timeout, check)

    def _call(self, job, args, arrays, timeout, check=None) -> tuple[dict, dict]:
        proc = self._proc
        try:
            proc.stdin.write(_pack({"job": job, "args": args or {}, "timeout": timeout}, arrays))
            proc.stdin.flush()
            n = struct.unpack("<Q", self._read(8, timeout, check))[0]
            header, out = _unpack(self._read(n, timeout, check))
        except TimeoutError:
            self._stop()
            raise TFError(f"TensorFlow did not finish within {timeout:g} s (the child process was stopped)") from None
        except (OSError, EOFError, struct.error, ValueError):
            code = proc.poll()
            tail = self._log_tail()
            self._stop()
            raise TFError(f"TensorFlow's child process stopped (exit status {code})"
                          + (f": {tail}" if tail else "")) from None
        if not header.get("ok"):
            raise TFError(header.get("error") or "TensorFlow failed")
        return header.get("result") or {}, out

    def _read(self, n: int, timeout: float, check=None) -> bytes:
        import time

        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        chunks, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if check is not None:
                try:
                    check()
                except BaseException:
                    self._stop()
                    raise
            if not select.select([fd], [], [], left if check is None else min(left, 0.25))[0]:
                if check is None:
                    raise TimeoutError
                continue
            b = os.read(fd, min(n - got, 1 << 20))
            if not b:
                raise EOFError
            chunks.append(b)
            got += len(b)
        return b"".join(chunks)

    def _log_tail(self) -> str:
        try:
            self._log.seek(0)
            lines = [ln for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()]
        except (OSError, AttributeError):
            return ""
        return lines[-1].strip()[:300] if lines else ""


def _stop(proc: subprocess.Popen) -> None:
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_tf(job: str, args: dict | None = None, arrays: dict | None = None, timeout: float = TIMEOUT,
           threads: int | None = None) -> tuple[dict, dict]:
    """Run one job in a fresh TensorFlow child process (see the module docstring)."""
    with TFWorker(threads=threads) as w:
        return w.call(job, args, arrays, timeout)


def version(args: dict, arrays: dict) -> dict:
    """A job: the child's TensorFlow version (and whether tf2onnx imports)."""
    tf = tensorflow()
    out = {"tensorflow": tf.__version__}
    try:
        import tf2onnx

        out["tf2onnx"] = tf2onnx.__version__
    except ImportError:
        out["tf2onnx"] = None
    return out

if __name__ == "__main__":
    _child_main()
