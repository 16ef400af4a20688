"""The training loop; losses, optimizers and callbacks live beside it (`losses.py`, `optim.py`, `callbacks.py`).

    result = train(network, [x], [y], TrainingOptions(epochs=5), [LossSpec("sparse_categorical_crossentropy")])

`x` / `y` are `deepnodes.dl.convert.Converted` (or plain tensors): whole columns converted once. Batches are
sliced from them (one gather per tensor per batch, cast to the network's dtype on the way): no per-sample
Python, no DataLoader; an encoded image column is decoded one batch ahead in a background thread
(`decode_ahead.py`). Metrics are accumulated as tensors on the device and read out only when a callback
is due (`metrics_interval`), so a CUDA run does not synchronise on every batch.

The input network is not changed: training works on a copy. Every random draw comes from the seed
(`deepnodes.dl.rng`): initialisation from (seed, layer name), shuffling from its own generator, and dropout
from the learner's own state of torch's global generator, swapped in under a lock for each forward pass of a
module that draws random numbers, so learners running side by side never change each other's results.
"""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from deepnodes.core.node import Cancelled

from .callbacks import Callback, KeepBest, NaNLoss, TerminateOnNaN, callbacks_for, state_of, with_loggers
from .convert import Converted, output_activation
from .decode_ahead import BatchFeed, place
from .losses import CLASS_LOSSES, LossFn, LossSpec, TrainingError, default_loss, from_logits
from .network import Network
from .optim import (apply_freezing, frozen_batchnorms, make_lr_schedule, make_optimizer, param_groups,
                    regularization_term, resolve_device)
from .options import TrainingOptions
from .rng import GlobalStream, draws_random, torch_generator
from .speed import SpeedPlan, restore, speed_plan
from .trim import BatchTrim


@dataclass
class TrainResult:
    network: Network
    history: list[dict] = field(default_factory=list)
    stopped: str = ""  # "", "stop requested", "early stopping"
    best_epoch: int | None = None
    epochs_done: int = 0
    #: the metrics of the model returned: the best epoch's row when its weights were kept, else the last epoch's
    reported: dict = field(default_factory=dict)


class TrainingCancelled(Cancelled):
    """Cancelled mid-training; `.result` holds the network as it was after the last complete epoch."""

    def __init__(self, result: TrainResult):
        super().__init__("training was cancelled; the model of the last complete epoch is kept")
        self.result = result


def _as_conv(x) -> Converted:
    if isinstance(x, Converted):
        return x
    t = x if torch.is_tensor(x) else torch.as_tensor(x)
    return Converted(t, t.dtype, "tensor")


class _Loop:
    """The state callbacks see: module, optimizer, stop reason, epochs done, log."""

    def __init__(self, module, optimizer, log, epochs_done=0):
        self.module, self.optimizer, self.log = module, optimizer, log
        self.stop = ""
        self.epochs_done = epochs_done


def _check_rows(x, y) -> int:
    n = len(x[0])
    if n == 0:
        raise TrainingError("the training table is empty")
    for t in list(x) + [t for t in y if t is not None]:
        if len(t) != n:
            raise TrainingError(f"all inputs and targets need the same number of rows; got {n} and {len(t)}")
    return n


def loss_functions(net: Network, losses, y, dev) -> list[LossFn | None]:
    fns: list[LossFn | None] = []
    names = [t.name for t in net.spec.outputs]
    for i, ls in enumerate(losses):
        if ls is None or i >= len(y) or y[i] is None:
            fns.append(None)
            continue
        out = names[i] if i < len(names) else f"output_{i}"
        fns.append(LossFn(ls, from_logits(ls, output_activation(net, i), out), dev))
    if not any(fns):
        raise TrainingError("no network output has a target and a loss")
    return fns


def train(network: Network, x: Sequence, y: Sequence, opts: TrainingOptions | None = None,
          losses: Sequence[LossSpec | None] | None = None, *, val_x: Sequence | None = None,
          val_y: Sequence | None = None, on_batch: Callable[[dict], None] | None = None,
          on_epoch: Callable[[dict], None] | None = None, should_stop: Callable[[], bool] | None = None,
          check_cancelled: Callable[[], None] | None = None, log: Callable[[str], None] | None = None,
          device: str | None = None, speedups: bool = True, dist=None) -> TrainResult:
    """Train a copy of `network` on inputs `x` (one per network input) and targets `y` (one per output;
    None for an output without a loss). Returns the trained copy and one history row per epoch.
    `speedups=False` trains the plain way a hand-written loop does (`deepnodes.dl.speed`), for comparisons.
    A NaN loss (with `terminate_on_nan`) raises `NaNLoss` whose `.result` holds the last good model.
    `dist` (`deepnodes.dl.distributed.hooks.WorkerHooks`): this process is one rank of a data-parallel group: the
    forward pass goes through DDP, epoch sums are all-reduced, and it checkpoints / resumes at epoch ends."""
    opts = opts or TrainingOptions()
    log = log or (lambda s: None)
    x = [_as_conv(t) for t in x]
    y = [None if t is None else _as_conv(t) for t in y]
    n = _check_rows(x, y)
    has_val = val_x is not None and val_y is not None and len(val_x) and len(_as_conv(val_x[0]))
    if has_val:
        val_x, val_y = [_as_conv(t) for t in val_x], [None if t is None else _as_conv(t) for t in val_y]

    dev = resolve_device(device if opts.device == "auto" and device else opts.device)
    net = network.copy()
    if not net.built:
        net.metadata["seed"] = opts.seed
        net.build(seed=opts.seed)
    module = net.module
    module.to(dev)
    apply_freezing(net, module)
    plan = speed_plan(module, dev, opts, speedups)
    plan.prepare(module)
    opt = make_optimizer(opts, param_groups(module, opts), plan.optimizer_kwargs)
    fwd = plan.forward(net)
    bn_frozen = frozen_batchnorms(module) if opts.freeze_batchnorm else []
    reg = regularization_term(net, module)
    # a module drawing random numbers (dropout, noise) draws from the learner's own stream, under the lock
    rk = dist.stream_key if dist is not None else ()  # rank 0 draws what a local run draws
    stream = GlobalStream(opts.seed, "train", *rk) if draws_random(module) else None

    losses = list(losses) if losses is not None else [LossSpec("mse")] * len(y)
    fns = loss_functions(net, losses, y, dev)
    plan.use_logits(module, fns)  # a softmax output's cross-entropy from its logits (restored by `_finish`)
    if plan.describe():
        log(f"training with {plan.describe()}")
    acc_i = next((i for i, f in enumerate(fns) if f is not None and f.classify), None)
    out_names = [t.name for t in net.spec.outputs] or [f"output_{i}" for i in range(len(fns))]
    if dist is not None:
        fwd = dist.wrap(module, fwd, dev, find_unused=None in fns)

    amp = opts.mixed_precision and dev.type == "cuda"
    if opts.mixed_precision and not amp:
        log("mixed precision needs CUDA; training in float32 on the CPU")
    amp_dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if amp and amp_dtype == torch.float16 else None

    trim = BatchTrim.of(net, x, y, losses)  # each batch cut to its longest real row where padding changes nothing
    x, y = place(x, dev), place(y, dev)
    val_x, val_y = (place(val_x, dev), place(val_y, dev)) if has_val else (val_x, val_y)
    feed = BatchFeed(x + y, dev, plan.pin)  # encoded image columns: the next batch decodes while one trains
    gen = torch_generator(opts.seed, "shuffle", *rk)
    bs = opts.batch_size
    nb = (n + bs - 1) // bs
    sched = make_lr_schedule(opts, opt, opts.epochs * nb)  # stepped after every optimizer step

    def forward_loss(xb, yb, weighted=True):
        with stream.active(dev) if stream is not None else nullcontext():
            outs, masks = fwd(*plan.batch(xb))
        total = None
        parts = []
        correct = counted = None
        for i, fn in enumerate(fns):
            if fn is None:
                parts.append(None)
                continue
            lo, c, k = fn(outs[i], yb[i], weighted, mask=masks[i])
            parts.append(lo)
            total = lo * fn.spec.weight if total is None else total + lo * fn.spec.weight
            if i == acc_i:
                correct, counted = c, k
        return total, parts, correct, counted

    history: list[dict] = []
    monitor = opts.monitor
    if monitor.startswith("val_") and not has_val:
        log(f"no validation table: '{monitor}' is watched on the training data ('{monitor[4:]}')")
        monitor = monitor[4:]
    loop = _Loop(module, opt, log)
    cbs = with_loggers(callbacks_for(opts, monitor, module), opts, net)
    nan_cb = next((c for c in cbs if isinstance(c, TerminateOnNaN)), None)
    last_complete = nan_cb.last_good if nan_cb is not None else (state_of(module) if check_cancelled else None)
    step = 0
    result = TrainResult(net)
    zero = torch.zeros((), device=dev)

    batch_cbs = [c for c in cbs if type(c).on_batch_end is not Callback.on_batch_end]  # only they cost a read
    for cb in cbs:
        cb.on_train_begin(loop)
    first = 1
    if dist is not None:  # a restarted worker group continues after its last checkpointed epoch
        first, step = dist.resume(loop, cbs, gen, stream, history)
        sched.resume(step)
        result.epochs_done = loop.epochs_done = first - 1
        last_complete = state_of(module) if last_complete is not None and first > 1 else last_complete
    try:
        for epoch in range(first, opts.epochs + 1):
            module.train()
            for m in bn_frozen:
                m.eval()
            perm = trim.epoch(torch.randperm(n, generator=gen) if opts.shuffle else None, bs)
            if perm is not None and dev.type != "cpu":
                perm = perm.to(dev)
            feed.epoch(perm, n, bs)
            loss_sum = zero.clone()
            corr_sum = zero.clone()
            cnt_sum = zero.clone()
            cnt_int = 0  # counts known on the host need no device op
            part_sums = [zero.clone() for _ in fns]
            seen = 0
            t0 = time.perf_counter()
            last_emit = t0
            for b in range(nb):
                if check_cancelled is not None:
                    check_cancelled()
                if should_stop is not None and should_stop():
                    loop.stop = "stop requested"
                    break
                xy = feed.get(b)
                xb, yb = trim.cut(b, xy[:len(x)], xy[len(x):])
                m_b = min(n, (b + 1) * bs) - b * bs
                opt.zero_grad(set_to_none=True)
                if amp:
                    with torch.autocast("cuda", dtype=amp_dtype):
                        loss, parts, correct, counted = forward_loss(xb, yb)
                else:
                    loss, parts, correct, counted = forward_loss(xb, yb)
                full = loss + reg() if reg is not None else loss
                if scaler is not None:
                    scaler.scale(full).backward()
                    if opts.clipnorm or opts.clipvalue:
                        scaler.unscale_(opt)
                else:
                    full.backward()
                if opts.clipvalue:
                    torch.nn.utils.clip_grad_value_(module.parameters(), opts.clipvalue)
                if opts.clipnorm:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), opts.clipnorm)
                if scaler is not None:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
                sched.step()
                net.weights_changed()  # a fused step moves no version counter: say so (dl/infer.py's export cache)
                step += 1
                if dist is not None:
                    dist.after_step(module, step)
                seen += m_b
                loss_sum.add_(loss.detach(), alpha=m_b)
                if len(fns) > 1:
                    for k, p in enumerate(parts):
                        if p is not None:
                            part_sums[k].add_(p.detach(), alpha=m_b)
                if correct is not None:
                    corr_sum.add_(correct)
                    if isinstance(counted, int):
                        cnt_int += counted
                    else:
                        cnt_sum.add_(counted)
                now = time.perf_counter()
                if (on_batch is not None or batch_cbs) and (now - last_emit >= opts.metrics_interval or b == nb - 1):
                    last_emit = now
                    lv = float(loss_sum) / seen
                    if nan_cb is not None and dist is None:  # ranks decide together, at the epoch's end
                        nan_cb.check(lv, epoch, b + 1)
                    mv = {"loss": lv, "lr": opt.param_groups[0]["lr"], "samples_per_s": seen / max(now - t0, 1e-9)}
                    if acc_i is not None:
                        mv["accuracy"] = float(corr_sum) / max(float(cnt_sum) + cnt_int, 1)
                    for cb in batch_cbs:
                        cb.on_batch_end(loop, step, mv)
                    if on_batch is not None:
                        on_batch({"epoch": epoch, "batch": b + 1, "batches": nb, "step": step, "values": mv})
            secs = time.perf_counter() - t0
            if dist is not None:  # the epoch's sums over every rank's shard
                seen, cnt_int = dist.all_sum([loss_sum, corr_sum, cnt_sum, *part_sums], seen, cnt_int)
            stopped = loop.stop
            if stopped and seen == 0:
                break
            row: dict[str, Any] = {"epoch": epoch, "loss": float(loss_sum) / max(seen, 1)}
            if acc_i is not None:
                row["accuracy"] = float(corr_sum) / max(float(cnt_sum) + cnt_int, 1)
            if len(fns) > 1:
                for k, fn in enumerate(fns):
                    if fn is not None:
                        row[f"loss_{out_names[k]}"] = float(part_sums[k]) / max(seen, 1)
            if nan_cb is not None and not stopped:
                nan_cb.check(row["loss"], epoch)
            if has_val and not stopped:
                row.update(evaluate(net, val_x, val_y, fns, opts.validation_batch_size, dev, amp, amp_dtype, acc_i,
                                    check_cancelled, prefix="val_", plan=plan))
            row["lr"] = opt.param_groups[0]["lr"]
            row["seconds"] = secs
            row["samples_per_s"] = seen / max(secs, 1e-9)
            if stopped:
                row["partial"] = True
            history.append(row)
            result.epochs_done = loop.epochs_done = epoch if not stopped else epoch - 1
            if on_epoch is not None:
                on_epoch({"epoch": epoch, "epochs": opts.epochs, "step": step, "values": dict(row)})
            if stopped:
                break
            for cb in cbs:
                cb.on_epoch_end(loop, epoch, row)
            if check_cancelled is not None and nan_cb is None:
                last_complete = state_of(module)
            elif nan_cb is not None:
                last_complete = nan_cb.last_good
            if dist is not None:
                dist.epoch_end(loop, epoch, step, history, cbs, gen, stream)
            if loop.stop:
                break
    except Cancelled:
        if last_complete is not None:
            module.load_state_dict(last_complete)
        result.history = [h for h in history if not h.get("partial")]
        _finish(net, result, opts, y)
        raise TrainingCancelled(result) from None
    except NaNLoss as e:
        module.load_state_dict(e.state)
        result.history = [h for h in history if math.isfinite(h["loss"]) and not h.get("partial")][:e.epochs]
        result.epochs_done = e.epochs
        result.stopped = "the loss became NaN"
        _finish(net, result, opts, y)
        e.result = result
        raise
    finally:
        feed.close()  # the decode thread ends with the loop, however it ends

    for cb in cbs:
        cb.on_train_end(loop)
    keep = next((c for c in cbs if isinstance(c, KeepBest)), None)
    result.history = history
    result.stopped = loop.stop
    result.best_epoch = keep.best_epoch if keep is not None else None
    _finish(net, result, opts, y)
    if keep is not None and keep.best_row is not None and loop.stop != "stop requested":
        result.reported = dict(keep.best_row)
    for cb in cbs:
        cb.on_result(result)
    return result


def _finish(net: Network, result: TrainResult, opts: TrainingOptions, y) -> None:
    net.module.eval()
    restore(net.module)  # the network handed on is laid out as its layers built it
    net.weights_changed()  # kept-best / last-good weights restored, batch-norm statistics updated
    md = net.metadata
    md["history"] = list(md.get("history", [])) + result.history
    md["seed"] = md.get("seed", opts.seed)
    md["trained"] = True
    md["training"] = {"epochs": result.epochs_done, "optimizer": opts.optimizer,
                      "learning_rate": opts.learning_rate, "batch_size": opts.batch_size, "seed": opts.seed}
    complete = [h for h in result.history if not h.get("partial")]
    result.reported = dict(complete[-1]) if complete else {}
    for t in y:
        if t is not None and t.classes:
            md["class_names"] = list(t.classes)
            break


@torch.inference_mode()
def evaluate(net: Network, xs, ys, fns, batch_size: int, dev, amp=False, amp_dtype=None, acc_i=None,
             check_cancelled=None, prefix: str = "", plan: SpeedPlan | None = None) -> dict:
    """Loss (unweighted) and accuracy of `net` on converted tensors, in batches (in eval mode: no random draws;
    under `torch.inference_mode`, so no autograd bookkeeping)."""
    plan = plan or SpeedPlan()
    module = net.module
    was = module.training
    module.eval()
    n = len(xs[0])
    loss_sum = torch.zeros((), device=dev)
    corr = torch.zeros((), device=dev)
    cnt = torch.zeros((), device=dev)
    feed = BatchFeed(xs, dev, plan.pin)
    feed.epoch(None, n, batch_size)
    trim = BatchTrim.of(net, xs, ys, [f.spec if f is not None else None for f in fns], batch_size)
    try:
        for b, lo in enumerate(range(0, n, batch_size)):
            if check_cancelled is not None:
                check_cancelled()
            sl = slice(lo, min(n, lo + batch_size))
            xb, yb = trim.cut(b, feed.get(b), [None if t is None else t.data[sl].to(dev) for t in ys])
            xb = plan.batch(xb)
            with torch.autocast("cuda", dtype=amp_dtype) if amp else nullcontext():
                outs, masks = net.forward_masked(*xb)
            total = None
            for i, fn in enumerate(fns):
                if fn is None:
                    continue
                lo_, c, k = fn(outs[i], yb[i], weighted=False, mask=masks[i])
                total = lo_ * fn.spec.weight if total is None else total + lo_ * fn.spec.weight
                if i == acc_i:
                    corr += c
                    cnt += k
            loss_sum += total * (sl.stop - sl.start)
    finally:
        feed.close()
    module.train(was)
    out = {f"{prefix}loss": float(loss_sum) / max(n, 1)}
    if acc_i is not None:
        out[f"{prefix}accuracy"] = float(corr) / max(float(cnt), 1)
    return out


def history_table(history: list[dict]):
    """The per-epoch history as a `pyarrow.Table` (one row per epoch; missing metrics are null)."""
    import pyarrow as pa

    keys: list[str] = []
    for row in history:
        for k in row:
            if k not in keys and k != "partial":
                keys.append(k)
    if not keys:
        keys = ["epoch", "loss"]
    cols = {}
    for k in keys:
        vals = [row.get(k) for row in history]
        cols[k] = pa.array(vals, type=pa.int64() if k == "epoch" else pa.float64())
    return pa.table(cols)


__all__ = ["LossSpec", "LossFn", "NaNLoss", "TrainResult", "TrainingCancelled", "TrainingError", "train", "evaluate",
           "history_table", "default_loss", "output_activation", "CLASS_LOSSES"]
