"""Training behaviours as small objects the loop calls at fixed points (as in Keras and Lightning):
early stopping, reduce-LR-on-plateau, keep-best and the NaN check.

    cbs = callbacks_for(opts, monitor)
    for epoch ...:                      # epochs count from 1 here (Keras counts from 0)
        for cb in cbs: cb.on_epoch_end(loop, epoch, row)
        if loop.stop: break
    for cb in cbs: cb.on_train_end(loop)

The rules follow Keras 3's callbacks (`keras/src/callbacks/`), so the same patience stops and reduces at the same
epoch: a value improves when it beats the best by more than `min_delta` (the first value always does), the wait
counts epochs since the last improvement and acts when it reaches `patience`.
"""
from __future__ import annotations

import math
from typing import Any, Protocol

from .losses import TrainingError


class LoopState(Protocol):
    """What callbacks see of the loop."""

    module: Any
    optimizer: Any
    stop: str

    def log(self, line: str) -> None: ...


def state_of(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class Monitor:
    """Keras' `MonitorCallback` rule: is `value` an improvement on the best so far (min or max mode)?"""

    def __init__(self, metric: str, min_delta: float = 0.0, mode: str = "auto"):
        self.metric = metric
        self.maximize = mode == "max" or (mode == "auto" and "acc" in metric)
        self.min_delta = abs(min_delta)
        self.best: float | None = None

    def improves(self, value: float) -> bool:
        """Compared in float32, as Keras compares (metrics are float32 values anyway)."""
        if self.best is None:
            return True
        if self.maximize:
            return _f32(value - self.min_delta) > _f32(self.best)
        return _f32(value + self.min_delta) < _f32(self.best)

    def value(self, row: dict) -> float:
        v = row.get(self.metric)
        if v is None:
            raise TrainingError(f"option 'monitor': there is no metric '{self.metric}'; the metrics are "
                                f"{', '.join(k for k in row if k not in ('epoch', 'seconds', 'partial'))}")
        return float(v)


class Callback:
    """No-op hooks; a callback overrides those it needs. `on_batch_end` is called at the display rate
    (`metrics_interval`) with values already read from the device; `on_result` after the trained network is
    back on the CPU (for loggers that save it)."""

    def on_train_begin(self, loop: LoopState) -> None:
        pass

    def on_batch_end(self, loop: LoopState, step: int, values: dict) -> None:
        pass

    def on_epoch_end(self, loop: LoopState, epoch: int, row: dict) -> None:
        pass

    def on_train_end(self, loop: LoopState) -> None:
        pass

    def on_result(self, result) -> None:
        pass


class EarlyStopping(Callback):
    """Stops when the monitored metric has not improved for `patience` epochs (Keras `EarlyStopping`)."""

    def __init__(self, metric: str, patience: int, min_delta: float = 0.0):
        self.monitor = Monitor(metric, min_delta)
        self.patience = patience
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, loop, epoch, row):
        cur = self.monitor.value(row)
        self.wait += 1
        if self.monitor.improves(cur):
            self.monitor.best, self.best_epoch, self.wait = cur, epoch, 0
            return
        if self.wait >= self.patience and epoch > 1:
            self.stopped_epoch = epoch
            loop.stop = "early stopping"
            loop.log(f"early stopping after epoch {epoch}: {self.monitor.metric} has not improved for {self.wait} "
                     f"epochs (best {self.monitor.best:.4g} in epoch {self.best_epoch})")


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` after `patience` epochs without improvement (Keras
    `ReduceLROnPlateau`, cooldown 0); every parameter group is reduced, none below `min_lr`."""

    def __init__(self, metric: str, factor: float, patience: int, min_lr: float = 0.0, min_delta: float = 0.0,
                 cooldown: int = 0):
        self.monitor = Monitor(metric, min_delta)
        self.factor, self.patience, self.min_lr, self.cooldown = factor, patience, min_lr, cooldown
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, loop, epoch, row):
        cur = self.monitor.value(row)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor.improves(cur):
            self.monitor.best, self.wait = cur, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                reduced = False
                for g in loop.optimizer.param_groups:
                    if g["lr"] > _f32(self.min_lr):
                        g["lr"] = max(g["lr"] * self.factor, self.min_lr)
                        reduced = True
                if reduced:
                    loop.log(f"epoch {epoch}: {self.monitor.metric} has not improved for {self.wait} epochs; "
                             f"learning rate now {loop.optimizer.param_groups[0]['lr']:.3g}")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


def _f32(x: float) -> float:
    import numpy as np

    return float(np.float32(x))


class KeepBest(Callback):
    """Keeps the weights of the best epoch by the monitored metric and ends training with them (Keras'
    `restore_best_weights`), unless the user pressed Stop (then the current model is what they asked for)."""

    def __init__(self, metric: str, min_delta: float = 0.0):
        self.monitor = Monitor(metric, min_delta)
        self.best_epoch: int | None = None
        self.best_row: dict | None = None
        self.state: dict | None = None

    def on_epoch_end(self, loop, epoch, row):
        cur = self.monitor.value(row)
        if self.monitor.improves(cur):
            self.monitor.best, self.best_epoch, self.best_row = cur, epoch, dict(row)
            self.state = state_of(loop.module)

    def on_train_end(self, loop):
        if self.state is None or loop.stop == "stop requested":
            return
        loop.module.load_state_dict(self.state)
        if self.best_epoch != loop.epochs_done:
            loop.log(f"kept the weights of epoch {self.best_epoch} (best {self.monitor.metric} "
                     f"{self.monitor.best:.4g})")


class NaNLoss(TrainingError):
    """The loss became NaN or infinite; `.state` holds the weights after the last complete (finite) epoch and
    `.epochs` how many epochs those weights have seen."""

    def __init__(self, message: str, state: dict | None, epochs: int):
        super().__init__(message)
        self.state = state
        self.epochs = epochs


class TerminateOnNaN(Callback):
    """Stops with `NaNLoss` when the loss is not finite, keeping the weights of the last complete epoch."""

    def __init__(self, module):
        self.last_good = state_of(module)
        self.good_epochs = 0

    def check(self, loss: float, epoch: int, batch: int | None = None) -> None:
        if math.isfinite(loss):
            return
        where = f"epoch {epoch}" + (f" (batch {batch})" if batch is not None else "")
        kept = (f"the model after epoch {self.good_epochs} is kept" if self.good_epochs else
                "no epoch finished, so the untrained model is kept")
        raise NaNLoss(f"the loss became {loss} in {where}; {kept}; try a lower learning rate, gradient clipping or "
                      f"check the inputs for huge values", self.last_good, self.good_epochs)

    def on_epoch_end(self, loop, epoch, row):
        self.check(row["loss"], epoch)
        self.last_good = state_of(loop.module)
        self.good_epochs = epoch


def callbacks_for(opts, metric: str, module) -> list[Callback]:
    """The callbacks the options ask for, in the order they run after each epoch."""
    cbs: list[Callback] = []
    if opts.terminate_on_nan:
        cbs.append(TerminateOnNaN(module))
    if opts.keep_best or (opts.early_stopping and opts.restore_best_weights):
        cbs.append(KeepBest(metric, opts.min_delta))
    if opts.reduce_lr_on_plateau:
        cbs.append(ReduceLROnPlateau(metric, opts.lr_factor, opts.lr_patience, opts.min_lr, opts.min_delta))
    if opts.early_stopping:
        cbs.append(EarlyStopping(metric, opts.patience, opts.min_delta))
    return cbs


def with_loggers(cbs: list[Callback], opts, network) -> list[Callback]:
    """The loggers the options ask for (MLflow, TensorBoard) run after the training behaviours: they log the
    epoch's row as the behaviours left it."""
    from .tracking import tracking_callbacks

    return cbs + tracking_callbacks(opts, network)
