"""The function every Ray Train worker runs (`TorchTrainer(train_loop_per_worker=train_loop)`).

It reads its shard of the training table (Arrow IPC bytes from the object store), converts it with the class
lists the driver found on the whole table (so every rank numbers the classes alike), and runs the ordinary
training loop (`dl.train.train`) with `WorkerHooks`. Rank 0 relays batch / epoch metrics and log lines to the
driver's control actor and writes the checkpoints: one per epoch (`state.pt`, weights-only torch file) and a
final one (`final.pt` weights + `final.json`: history, how it ended). A restarted group resumes from the last.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def read_ipc(data: bytes):
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _convert(table, bindings, classes):
    from deepnodes.dl.convert import convert

    return [None if b is None else convert(table, b[0], b[1], check=False, class_names=c)
            for b, c in zip(bindings, classes)]


def _save(folder: Path, name: str, obj) -> None:
    import torch

    tmp = folder / (name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, folder / name)


def _load(folder: Path, name: str):
    import torch

    return torch.load(folder / name, map_location="cpu", weights_only=True)


def _resume_state(ckpt, run_dir: Path) -> dict | None:
    """The last epoch's state: from the checkpoint Ray hands a restarted group, else the newest readable one in
    the run's folder (Ray registers a reported checkpoint only when it next polls the workers, so one a worker
    wrote just before another died may be in the folder but not yet known to Ray)."""
    found = []
    if ckpt is not None:
        with ckpt.as_directory() as d:
            if (Path(d) / "state.pt").exists():
                found.append(_load(Path(d), "state.pt"))
    for f in sorted(run_dir.glob("checkpoint_*/state.pt"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            found.append(_load(f.parent, "state.pt"))
            break
        except Exception:  # noqa: BLE001 - a checkpoint cut short by the failure: try the one before
            continue
    return max(found, key=lambda st: int(st["epoch"])) if found else None


def train_loop(config: dict) -> None:
    import ray
    import ray.train

    from deepnodes.dl.callbacks import NaNLoss
    from deepnodes.dl.losses import TrainingError
    from deepnodes.dl.train import TrainingCancelled, train

    from .hooks import WorkerHooks

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    control, run = config["control"], config["run"]
    lead = rank == 0
    control.push.remote(run, {"kind": "worker", "rank": rank, "pid": os.getpid()})

    def send(ev):
        if lead:
            control.push.remote(run, ev)

    table = read_ipc(ray.get(config["shards"][rank]))
    x = _convert(table, config["inputs"], config["input_classes"])
    y = _convert(table, config["targets"], config["target_classes"])
    vx = vy = None
    if config.get("validation") is not None:
        val = read_ipc(ray.get(config["validation"]))
        vx = _convert(val, config["inputs"], config["input_classes"])
        vy = _convert(val, config["targets"], config["target_classes"])
    network = ray.get(config["network"])
    opts = config["opts"]
    if not lead:  # loggers (MLflow, TensorBoard) write once, from rank 0
        opts = opts.model_copy(update={"log_mlflow": False, "log_tensorboard": False})
    device = "cpu"
    if config["use_gpu"]:
        import ray.train.torch

        device = str(ray.train.torch.get_device())

    resume = _resume_state(ray.train.get_checkpoint(), Path(config["run_dir"]))
    if resume is not None:
        send({"kind": "resumed", "epoch": int(resume["epoch"])})

    def on_checkpoint(state: dict, epoch: int) -> None:
        metrics = {"epoch": epoch, **{k: v for k, v in state["history"][-1].items() if isinstance(v, (int, float))}}
        if not lead:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory() as d:
            _save(Path(d), "state.pt", state)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))

    poll = (lambda: ray.get(control.flag.remote(run))) if lead else None
    hooks = WorkerHooks(rank, world, poll=poll, resume_state=resume, on_checkpoint=on_checkpoint,
                        check_sync=config.get("check_sync", False))
    status, message, res = "complete", "", None
    try:
        res = train(network, x, y, opts, config["losses"], val_x=vx, val_y=vy,
                    on_batch=(lambda ev: send({"kind": "batch", **ev})) if lead else None,
                    on_epoch=(lambda ev: send({"kind": "epoch", **ev})) if lead else None,
                    should_stop=hooks.should_stop, check_cancelled=hooks.check_cancelled,
                    log=(lambda line: send({"kind": "log", "line": line})) if lead else None,
                    device=device, dist=hooks)
    except TrainingCancelled as e:
        status, res = "cancelled", e.result
    except NaNLoss as e:
        status, message, res = "nan", str(e), getattr(e, "result", None)
    except TrainingError as e:
        status, message = "error", str(e)
    if hooks.check_sync:
        control.push.remote(run, {"kind": "digests", "rank": rank, "digests": hooks.digests})
    final = {"final": 1, "status": status}
    if not lead:
        ray.train.report(final)
        return
    with tempfile.TemporaryDirectory() as d:
        about = {"status": status, "message": message}
        if res is not None:
            _save(Path(d), "final.pt", {k: v.detach().cpu() for k, v in res.network.module.state_dict().items()})
            about.update(history=res.history, stopped=res.stopped, best_epoch=res.best_epoch,
                         epochs_done=res.epochs_done, reported=res.reported)
        (Path(d) / "final.json").write_text(json.dumps(about))
        ray.train.report(final, checkpoint=ray.train.Checkpoint.from_directory(d))
