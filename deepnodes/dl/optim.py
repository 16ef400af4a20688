"""Optimizers, parameter groups (frozen layers, a faster head), frozen BatchNorm, regularization, devices."""
from __future__ import annotations

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
