"""Data-parallel training on Ray Train: the driver side (`train_on_ray`); each worker runs `worker.train_loop`.

    result = train_on_ray(network, table, ins, outs, losses, opts, DistributedOptions(backend="ray", workers=2),
                          input_classes=[...], target_classes=[...], on_epoch=..., should_stop=..., ...)

- The training table is cut into `workers` shards (rank r takes rows r, r + W, r + 2W, ...; shards are padded
  to one length by repeating their first rows, as torch's DistributedSampler does, so every rank runs the same
  number of steps) holding only the bound columns, written as Arrow IPC and put in Ray's object store; the
  network and the validation table go there too (nothing large rides in the trainer's config).
- `batch_size` is the global batch: each worker takes ceil(batch_size / workers) rows per step, so one worker
  on Ray trains exactly what a local run trains.
- A control actor (one per Ray session, `control_actor`, shared by the runs) carries the workers' events to the driver (batch / epoch metrics, log lines: relayed to the
  same callbacks `train` takes, so the node's event stream shows them live) and the driver's Stop / Cancel to
  the workers (rank 0 polls it; the ranks agree at each batch).
- Ray Train checkpoints every epoch in `checkpoint_folder` (default: a temporary folder under
  `ray_runtime.storage_folder`, removed after a run that ended normally); `FailureConfig(max_failures)` restarts
  a failed worker group, which resumes after the last checkpointed epoch.
- The result is the same `TrainResult` a local `train` returns (weights loaded into a copy of the input network,
  metadata written by the same `_finish`); a cancel raises `TrainingCancelled`, a NaN `NaNLoss` (both with the
  model kept), bad options `TrainingError`.
"""
from __future__ import annotations

import json
import math
import shutil
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from deepnodes.core.node import Cancelled, NodeError
from deepnodes.core.ray_runtime import connect, storage_folder

from ..callbacks import NaNLoss
from ..losses import TrainingError
from ..options import DistributedOptions, TrainingOptions
from ..train import TrainingCancelled, TrainResult, _finish
from .hooks import CANCEL, GO, STOP


def shard_rows(n: int, workers: int) -> list[list[int]]:
    """Row indices of each worker's shard: strided, padded to one length from the shard's own start."""
    per = math.ceil(n / workers)
    out = []
    for r in range(workers):
        idx = list(range(r, n, workers)) or [r % n]
        while len(idx) < per:
            idx.append(idx[len(idx) % max(1, len(idx))])
        out.append(idx[:per])
    return out


def _ipc(table) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def _columns(bindings) -> list[str]:
    cols: list[str] = []
    for b in bindings:
        if b is not None:
            cols += [c for c in b[0].columns if c not in cols]
    return cols


CONTROL = "deepnodes-train-control"


def _control_class(ray):
    @ray.remote(num_cpus=0)
    class Control:
        """Every distributed run's events (workers -> driver) and Stop / Cancel code (driver -> workers), by run."""

        def __init__(self):
            self.events, self.codes = {}, {}

        def push(self, run, ev):
            self.events.setdefault(run, []).append(ev)

        def pull(self, run):
            return self.events.pop(run, [])

        def set(self, run, code):
            self.codes[run] = max(self.codes.get(run, GO), code)

        def flag(self, run):
            return self.codes.get(run, GO)

        def drop(self, run):
            self.events.pop(run, None)
            self.codes.pop(run, None)

    return Control


def control_actor(ray):
    """The one control actor of this Ray session (a named actor of this driver's job, created by the first
    distributed run): a new one per run would cost a worker process start each time."""
    return _control_class(ray).options(name=CONTROL, get_if_exists=True).remote()


def train_on_ray(network, table, ins, outs, losses, opts: TrainingOptions, dist: DistributedOptions, *,
                 input_classes, target_classes, val=None, on_batch: Callable | None = None,
                 on_epoch: Callable | None = None, should_stop: Callable[[], bool] | None = None,
                 check_cancelled: Callable[[], None] | None = None, log: Callable[[str], None] | None = None,
                 on_event: Callable[[dict], None] | None = None, check_sync: bool = False) -> TrainResult:
    """Train `network` on `table` with `dist.workers` Ray Train workers (see the module docstring). `ins` / `outs`
    are the Learner's bindings ((Binding, TensorSpec, entry) or None each); `on_event` sees every raw event
    (worker pids, resumes, weight digests with `check_sync`)."""
    log = log or (lambda s: None)
    session = connect(dist.address, option="distributed.address", backend_option="distributed.backend")
    ray = session.ray
    try:
        return _run(ray, session, network, table, ins, outs, losses, opts, dist, input_classes, target_classes,
                    val, on_batch, on_epoch, should_stop, check_cancelled, log, on_event, check_sync)
    finally:
        session.close()  # only a Ray this call started; one initialised before (a run's, a test's) stays up


def _check_resources(session, dist: DistributedOptions) -> None:
    have = session.gpus if dist.use_gpu else session.cpus
    what = "GPUs" if dist.use_gpu else "CPUs"
    if dist.workers > have:
        raise NodeError(f"option 'distributed.workers' is {dist.workers}, but the Ray cluster has {have} {what}; "
                        f"use at most {have} workers")


def _run(ray, session, network, table, ins, outs, losses, opts, dist, input_classes, target_classes, val,
         on_batch, on_epoch, should_stop, check_cancelled, log, on_event, check_sync) -> TrainResult:
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from .worker import train_loop

    _check_resources(session, dist)
    w = dist.workers
    cols = _columns(list(ins) + list(outs))
    data = table.select(cols)
    shards = [ray.put(_ipc(data.take(idx))) for idx in shard_rows(data.num_rows, w)]
    per_worker = opts.model_copy(update={"batch_size": max(1, math.ceil(opts.batch_size / w)), "device": "auto"})
    control = control_actor(ray)
    own_storage = not dist.checkpoint_folder
    name = f"learner-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    storage = storage_folder("train") if own_storage else str(Path(dist.checkpoint_folder).expanduser().resolve())
    config = {"control": control, "run": name, "shards": shards, "network": ray.put(network.copy()),
              "validation": ray.put(_ipc(val.select(cols))) if val is not None and val.num_rows else None,
              "inputs": [(b, t) for b, t, _ in ins], "targets": [None if o is None else (o[0], o[1]) for o in outs],
              "input_classes": list(input_classes), "target_classes": list(target_classes),
              "losses": list(losses), "opts": per_worker, "use_gpu": dist.use_gpu, "check_sync": check_sync,
              "run_dir": str(Path(storage) / name)}
    trainer = TorchTrainer(
        train_loop, train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=w, use_gpu=dist.use_gpu,
                                     resources_per_worker={"GPU": 1, "CPU": 1} if dist.use_gpu else {"CPU": 1}),
        run_config=RunConfig(name=name, storage_path=storage, failure_config=FailureConfig(max_failures=dist.max_failures),
                             checkpoint_config=CheckpointConfig(num_to_keep=2)))
    log(f"training on Ray with {w} worker{'s' if w > 1 else ''} ({'GPU' if dist.use_gpu else 'CPU'}); "
        f"{math.ceil(opts.batch_size / w)} rows per worker per step")
    box: dict = {}

    def fit():
        try:
            box["result"] = trainer.fit()
        except BaseException as e:  # noqa: BLE001 - handed to the driver thread below
            box["error"] = e

    th = threading.Thread(target=fit, name="ray-train-fit", daemon=True)
    th.start()

    def relay():
        for ev in ray.get(control.pull.remote(name)):
            if on_event is not None:
                on_event(ev)
            kind = ev.get("kind")
            if kind == "batch" and on_batch is not None:
                on_batch({k: v for k, v in ev.items() if k != "kind"})
            elif kind == "epoch" and on_epoch is not None:
                on_epoch({k: v for k, v in ev.items() if k != "kind"})
            elif kind == "log":
                log(ev["line"])
            elif kind == "resumed":
                log(f"a worker failed; Ray restarted the workers, resuming after epoch {ev['epoch']}")

    try:
        _follow(th, relay, lambda code: control.set.remote(name, code), should_stop, check_cancelled)
    finally:
        control.drop.remote(name)
    if "error" in box:
        raise NodeError(_failure_sentence(box["error"], dist)) from None
    result = box["result"]
    try:
        return _load_result(result.checkpoint, network, opts, target_classes)
    finally:
        if own_storage:
            shutil.rmtree(Path(storage) / name, ignore_errors=True)


def _follow(th, relay, tell, should_stop, check_cancelled) -> None:
    """Relay the workers' events while `trainer.fit` runs in `th`, and tell them (`tell(code)`) a Stop / Cancel."""
    cancelled_at = None
    while th.is_alive():
        th.join(0.2)
        relay()
        if should_stop is not None and should_stop():
            tell(STOP)
        if check_cancelled is not None and cancelled_at is None:
            try:
                check_cancelled()
            except Cancelled:
                cancelled_at = time.monotonic()
                tell(CANCEL)
        if cancelled_at is not None and time.monotonic() - cancelled_at > 60:
            raise Cancelled("the Ray workers did not stop within a minute of the cancel; they are left to Ray")
    relay()


def _failure_sentence(e: BaseException, dist) -> str:
    text = str(e).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    cause = next((ln for ln in reversed(lines) if ("Error" in ln or "error" in ln) and len(ln) < 300), lines[-1] if lines else type(e).__name__)
    return (f"distributed training on Ray failed (after {dist.max_failures} restart(s) allowed by "
            f"'distributed.max_failures'): {cause[:300]}")


def _load_result(ckpt, network, opts, target_classes) -> TrainResult:
    import torch

    if ckpt is None:
        raise NodeError("distributed training on Ray ended without a result checkpoint")
    with ckpt.as_directory() as d:
        about = json.loads((Path(d) / "final.json").read_text())
        weights = (torch.load(Path(d) / "final.pt", map_location="cpu", weights_only=True)
                   if (Path(d) / "final.pt").exists() else None)
    if about["status"] == "error":
        raise TrainingError(about["message"])
    net = network.copy()
    if not net.built:
        net.metadata["seed"] = opts.seed
        net.build(seed=opts.seed)
    net.module.load_state_dict(weights)
    res = TrainResult(net, stopped=about.get("stopped", ""), best_epoch=about.get("best_epoch"),
                      epochs_done=about.get("epochs_done", 0))
    res.history = [h for h in about.get("history", []) if not (about["status"] != "complete" and h.get("partial"))]
    ys = [None if c is None else SimpleNamespace(classes=c) for c in target_classes]
    _finish(net, res, opts, ys)
    reported = about.get("reported") or {}
    if reported and about["status"] == "complete":
        res.reported = reported
    if about["status"] == "cancelled":
        raise TrainingCancelled(res)
    if about["status"] == "nan":
        e = NaNLoss(about["message"], None, res.epochs_done)
        e.result = res
        raise e
    return res
