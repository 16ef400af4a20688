"""Optimizers, learning-rate schedules, parameter groups (frozen layers, a faster head), frozen BatchNorm,
regularization, devices."""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from .losses import TrainingError
from .network import Network
from .options import TrainingOptions


def make_optimizer(opts: TrainingOptions, groups: list[dict], fast: dict | None = None):
    """The optimizer `opts` names; `fast` adds torch's implementation choice (`fused` / `foreach`, see
    `deepnodes.dl.speed`), which changes how the update is computed, not what it is."""
    o = opts
    kw = dict(fast or {})
    lr = o.learning_rate
    betas = (o.beta_1, o.beta_2)
    wd = o.weight_decay
    name = o.optimizer
    if name == "sgd":
        if o.nesterov and o.momentum <= 0:
            raise TrainingError("option 'nesterov' needs a momentum above 0 (option 'momentum')")
        return torch.optim.SGD(groups, lr=lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=wd, **kw)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=o.epsilon, weight_decay=wd, amsgrad=o.amsgrad, **kw)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=o.epsilon, weight_decay=wd, amsgrad=o.amsgrad, **kw)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, alpha=o.rho, eps=o.epsilon, momentum=o.momentum, weight_decay=wd, **kw)
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr, eps=o.epsilon, weight_decay=wd, **kw)
    if name == "adadelta":
        return torch.optim.Adadelta(groups, lr=lr, rho=o.rho, eps=o.epsilon, weight_decay=wd, **kw)
    if name == "adamax":
        return torch.optim.Adamax(groups, lr=lr, betas=betas, eps=o.epsilon, weight_decay=wd, **kw)
    if name == "nadam":
        return torch.optim.NAdam(groups, lr=lr, betas=betas, eps=o.epsilon, weight_decay=wd, **kw)
    raise TrainingError(f"option 'optimizer': unknown optimizer '{name}'")


def _in_layers(param_name: str, layers: set[str]) -> bool:
    parts = param_name.split(".")
    return any(p in layers for p in parts[:-1])


def frozen_layers(network: Network) -> set[str]:
    """Names of the layers whose weights stay fixed (spec `trainable=False` or metadata 'frozen')."""
    out = {layer.name for layer in network.spec.layers if not layer.trainable}
    out |= set(network.metadata.get("frozen", []) or [])
    return out


def apply_freezing(network: Network, module) -> None:
    frozen = frozen_layers(network)
    if frozen:
        for name, p in module.named_parameters():
            if _in_layers(name, frozen):
                p.requires_grad_(False)


def param_groups(module, opts: TrainingOptions) -> list[dict]:
    head = set(opts.head_layers)
    body, top = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        (top if head and _in_layers(name, head) else body).append(p)
    if head and not top:
        raise TrainingError(f"option 'head_layers': no trainable layer is called "
                            f"{', '.join(repr(h) for h in sorted(head))}")
    groups = []
    if body:
        groups.append({"params": body})
    if top:
        groups.append({"params": top, "lr": opts.head_learning_rate or opts.learning_rate})
    if not groups:
        from .formats.onnx import OnnxModule
        from .formats.savedmodel_read import TFModule

        outside = next((m for m in module.modules() if isinstance(m, (OnnxModule, TFModule))), None)
        if outside is not None:  # its weights live in ONNX Runtime or TensorFlow, out of torch's reach
            raise TrainingError("the network is run by " + ("TensorFlow" if isinstance(outside, TFModule) else
                                "ONNX Runtime") + " (read from an ONNX model or a SavedModel): it is for inference "
                                "and feature extraction; it cannot be trained")
        raise TrainingError("the network has no trainable weights: every layer is frozen")
    return groups


def frozen_batchnorms(module) -> list:
    """BatchNorm modules whose parameters are all frozen: they keep their running statistics."""
    out = []
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            ps = list(m.parameters(recurse=False))
            if ps and not any(p.requires_grad for p in ps):
                out.append(m)
    return out


def regularization_term(network: Network, module) -> Callable[[], Any] | None:
    """A function giving the layers' l1/l2 regularization loss (options of layer nodes), or None when no layer
    declares any (then training pays nothing for it)."""
    try:
        from .layers import regularization_loss
    except ImportError:
        return None
    if regularization_loss(module) is None:
        return None
    return lambda: regularization_loss(module)


def resolve_device(device: str | None) -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError("option 'device' is 'cuda' but no CUDA device is available here; use 'auto' or 'cpu'")
    return torch.device(device)


def lr_factor(opts: TrainingOptions, total_steps: int) -> Callable[[int], float] | None:
    """The factor on `learning_rate` for the batch after `step` completed steps, or None without a schedule.
    cosine: the warm-up rises linearly from 0, then a half cosine falls to 0 at the last step (as Hugging Face's
    `get_cosine_schedule_with_warmup`). one_cycle: torch's `OneCycleLR` curve (cosine rise from lr/25 over the
    warm-up, cosine fall to lr/25e4 at the last step; the momentum is not cycled)."""
    kind = opts.lr_schedule
    if kind == "none":
        return None
    total = max(int(total_steps), 1)
    if kind == "cosine":
        warm = min(int(round((opts.warmup or 0.0) * total)), total - 1)  # the last step at least reaches the peak

        def cosine(step: int) -> float:
            if step < warm:
                return step / max(1, warm)
            progress = min(1.0, (step - warm) / max(1, total - warm))
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return cosine
    pct = 0.3 if opts.warmup is None else opts.warmup
    start, peak, end = 1 / 25, 1.0, 1 / 25 / 1e4  # OneCycleLR's div_factor and final_div_factor
    rise_end = float(pct * total) - 1  # OneCycleLR's phase boundaries
    fall_end = float(total - 1)

    def one_cycle(step: int) -> float:
        step = min(step, total - 1)
        if step <= rise_end:
            lo, hi, frac = start, peak, step / rise_end if rise_end > 0 else 1.0
        else:
            lo, hi, frac = peak, end, (step - rise_end) / max(fall_end - rise_end, 1e-12)
        return hi + (lo - hi) / 2.0 * (math.cos(math.pi * frac) + 1)
    return one_cycle


class LRSchedule:
    """The learning-rate schedule stepped after every optimizer step (`torch.optim.lr_scheduler.LambdaLR`, so
    head_learning_rate keeps its ratio). Its position is the loop's step count: a resumed run continues it."""

    def __init__(self, optimizer, factor: Callable[[int], float] | None):
        self.factor = factor
        self.sched = torch.optim.lr_scheduler.LambdaLR(optimizer, factor) if factor is not None else None

    def step(self) -> None:
        if self.sched is not None:
            self.sched.step()

    def resume(self, step: int) -> None:
        """Continue after `step` completed optimizer steps (a restored checkpoint)."""
        if self.sched is not None and step:
            self.sched.last_epoch = step
            groups = self.sched.optimizer.param_groups
            for g in groups:
                g["lr"] = g["initial_lr"] * self.factor(step)
            self.sched._last_lr = [g["lr"] for g in groups]


def make_lr_schedule(opts: TrainingOptions, optimizer, total_steps: int) -> LRSchedule:
    if opts.lr_schedule != "none" and opts.reduce_lr_on_plateau:
        raise TrainingError(f"option 'lr_schedule' ('{opts.lr_schedule}') and option 'reduce_lr_on_plateau' both "
                            "set the learning rate; use one of them")
    return LRSchedule(optimizer, lr_factor(opts, total_steps))
