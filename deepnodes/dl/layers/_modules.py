"""The torch side shared by the layer catalogue: activations, initializers and regularizers.

Each spec file's torch modules live beside it (`conv.py` -> `_conv_modules.py`, ...); like them, this module is
imported only by `build` functions (never at configure time). Tensors are batch first, PyTorch layout:
(N, C, H, W) images, (N, C, D, H, W) volumes, (N, T, F) sequences.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------- activations


class Linear(nn.Identity):
    pass


class HardSigmoid(nn.Module):  # Keras 3: relu6(x + 3) / 6
    def forward(self, x):
        return F.relu6(x + 3.0) / 6.0


class Exponential(nn.Module):
    def forward(self, x):
        return torch.exp(x)


def activation(name: str, dim: int = -1) -> nn.Module | None:
    """A Keras activation by name; None for 'linear'. `dim` is the feature axis for softmax."""
    if name in (None, "linear"):
        return None
    table = {
        "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "elu": nn.ELU, "selu": nn.SELU,
        "softplus": nn.Softplus, "softsign": nn.Softsign, "gelu": nn.GELU, "swish": nn.SiLU, "silu": nn.SiLU,
        "hard_sigmoid": HardSigmoid, "exponential": Exponential, "relu6": nn.ReLU6, "mish": nn.Mish,
    }
    if name == "softmax":
        return nn.Softmax(dim=dim)
    if name == "log_softmax":
        return nn.LogSoftmax(dim=dim)
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    return table[name]()


# ---------------------------------------------------------------- initializers and regularizers


@torch.no_grad()
def init_(t: torch.Tensor, name: str) -> None:
    """Keras initializers on a torch weight (fans computed like Keras: out/in channels times receptive field)."""
    if name == "torch_default":
        return
    if name == "zeros":
        t.zero_()
    elif name == "ones":
        t.fill_(1.0)
    elif name == "random_normal":
        t.normal_(0.0, 0.05)
    elif name == "random_uniform":
        t.uniform_(-0.05, 0.05)
    elif name == "truncated_normal":
        nn.init.trunc_normal_(t, 0.0, 0.05, -0.1, 0.1)
    elif t.dim() < 2:  # fan-based initializers need a matrix; a vector gets zeros (a bias)
        t.zero_()
    elif name == "glorot_uniform":
        nn.init.xavier_uniform_(t)
    elif name == "glorot_normal":
        nn.init.xavier_normal_(t)
    elif name == "he_uniform":
        nn.init.kaiming_uniform_(t, nonlinearity="relu")
    elif name == "he_normal":
        nn.init.kaiming_normal_(t, nonlinearity="relu")
    elif name == "lecun_uniform":
        nn.init.kaiming_uniform_(t, nonlinearity="linear")
    elif name == "lecun_normal":
        nn.init.kaiming_normal_(t, nonlinearity="linear")
    elif name == "orthogonal":
        nn.init.orthogonal_(t)
    else:
        raise ValueError(f"unknown initializer '{name}'")


def init_weight_bias(m: nn.Module, config: dict, kernel: str = "kernel", weight: str = "weight") -> None:
    w = getattr(m, weight, None)
    if w is not None:
        init_(w, config.get(f"{kernel}_initializer", "glorot_uniform"))
    b = getattr(m, "bias", None)
    if isinstance(b, torch.Tensor):
        init_(b, config.get("bias_initializer", "zeros"))


def set_regularizers(m: nn.Module, config: dict, mapping: dict[str, str]) -> None:
    """Record l1/l2 penalties: `mapping` maps a config option ('kernel_regularizer') to a parameter path."""
    regs = []
    for opt, pname in mapping.items():
        r = config.get(opt)
        if r and (r.get("l1", 0.0) or r.get("l2", 0.0)):
            regs.append((pname, float(r.get("l1", 0.0)), float(r.get("l2", 0.0))))
    if regs:
        m.dn_regularizers = regs


def regularization_loss(module: nn.Module) -> torch.Tensor | None:
    """Sum of the l1/l2 penalties declared by the layers (None when no layer declares any).

    The trainer adds it to the loss: `loss = loss + reg` when it is not None.
    """
    total = None
    for m in module.modules():
        regs = getattr(m, "dn_regularizers", None)
        if not regs:
            continue
        for pname, l1, l2 in regs:
            p = m.get_parameter(pname)
            term = None
            if l1:
                term = l1 * p.abs().sum()
            if l2:
                t2 = l2 * p.pow(2).sum()
                term = t2 if term is None else term + t2
            if term is not None:
                total = term if total is None else total + term
    return total


def has_regularization(module: nn.Module) -> bool:
    return any(getattr(m, "dn_regularizers", None) for m in module.modules())
