"""The torch side of the layer catalogue: module classes, initializers, activations and regularizers.

Imported only by `build` functions (never at configure time). Tensors are batch first, PyTorch layout:
(N, C, H, W) images, (N, C, D, H, W) volumes, (N, T, F) sequences.
"""
from __future__ import annotations

import math

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


# ---------------------------------------------------------------- core


class Dense(nn.Linear):
    """Linear map on the last axis plus an optional activation."""

    def __init__(self, in_features: int, units: int, bias: bool, act: str):
        super().__init__(in_features, units, bias=bias)
        self.act = activation(act)

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        return y if self.act is None else self.act(y)


class Flatten(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class Reshape(nn.Module):
    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.shape)


class Permute(nn.Module):
    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = (0,) + tuple(dims)

    def forward(self, x):
        return x.permute(self.dims)


class RepeatVector(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x):  # (N, F) -> (N, n, F)
        return x.unsqueeze(1).expand(-1, self.n, -1)


class Masking(nn.Module):
    """Zeroes the timesteps whose features all equal `mask_value`."""

    def __init__(self, mask_value: float):
        super().__init__()
        self.mask_value = mask_value

    def compute_mask(self, x):  # (N, T): True at the steps that are not padding
        return (x != self.mask_value).any(dim=-1)

    def forward(self, x):  # (N, T, F)
        return x * self.compute_mask(x).unsqueeze(-1).to(x.dtype)


class Act(nn.Module):
    def __init__(self, name: str, dim: int = -1):
        super().__init__()
        self.fn = activation(name, dim) or nn.Identity()

    def forward(self, x):
        return self.fn(x)


class Cast(nn.Module):
    """An Input layer: casts to the declared dtype when needed (so an int64 column feeds an int model)."""

    def __init__(self, dtype: str):
        super().__init__()
        self.dtype = getattr(torch, dtype)

    def forward(self, x):
        return x if x.dtype == self.dtype else x.to(self.dtype)


# ---------------------------------------------------------------- convolutions


def _pad_for(x, ks, ss, ds, nd):
    """'same' padding (Keras rule, extra after) for the last nd axes of x -> F.pad argument list."""
    pads = []
    for i in reversed(range(nd)):
        n = x.shape[x.dim() - nd + i]
        total = max((math.ceil(n / ss[i]) - 1) * ss[i] + (ks[i] - 1) * ds[i] + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


class Conv(nn.Module):
    """ConvNd with Keras 'valid'/'same' padding and an activation. `seq` = 1D on (N, T, F) sequences."""

    def __init__(self, nd: int, in_ch: int, filters: int, k, s, d, padding: str, groups: int, bias: bool, act: str,
                 seq: bool = False, act_dim: int = 1):
        super().__init__()
        cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[nd]
        self.nd, self.k, self.s, self.d, self.seq = nd, tuple(k), tuple(s), tuple(d), seq
        sym = padding == "same" and all(st == 1 and (kk - 1) * dd % 2 == 0 for kk, st, dd in zip(k, s, d))
        self.dynamic_pad = padding == "same" and not sym
        pad = tuple((kk - 1) * dd // 2 for kk, dd in zip(k, d)) if sym else 0
        self.conv = cls(in_ch, filters, tuple(k), stride=tuple(s), padding=pad, dilation=tuple(d), groups=groups,
                        bias=bias)
        self.act = activation(act, act_dim if not seq else -1)

    def forward(self, x):
        if self.seq:
            x = x.transpose(1, 2)
        if self.dynamic_pad:
            x = F.pad(x, _pad_for(x, self.k, self.s, self.d, self.nd))
        y = self.conv(x)
        if self.seq:
            y = y.transpose(1, 2)
        return y if self.act is None else self.act(y)


class SeparableConv(nn.Module):
    def __init__(self, nd, in_ch, filters, k, s, d, padding, depth_multiplier, bias, act, seq=False):
        super().__init__()
        self.depthwise = Conv(nd, in_ch, in_ch * depth_multiplier, k, s, d, padding, in_ch, False, "linear")
        self.pointwise = Conv(nd, in_ch * depth_multiplier, filters, (1,) * nd, (1,) * nd, (1,) * nd, "valid", 1, bias,
                              act)
        self.seq = seq

    def forward(self, x):
        if self.seq:
            x = x.transpose(1, 2)
        y = self.pointwise(self.depthwise(x))
        return y.transpose(1, 2) if self.seq else y


class ConvTranspose(nn.Module):
    def __init__(self, nd, in_ch, filters, k, s, d, padding, bias, act, seq=False):
        super().__init__()
        cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[nd]
        self.conv = cls(in_ch, filters, tuple(k), stride=tuple(s), dilation=tuple(d), bias=bias)
        self.nd, self.k, self.s, self.d, self.same, self.seq = nd, tuple(k), tuple(s), tuple(d), padding == "same", seq
        self.act = activation(act, 1 if not seq else -1)

    def forward(self, x):
        if self.seq:
            x = x.transpose(1, 2)
        y = self.conv(x)
        if self.same:  # crop (or pad) the 'valid' result to in * stride, Keras-style
            pads = []
            for i in reversed(range(self.nd)):
                total = (self.k[i] - 1) * self.d[i] + 1 - self.s[i]
                lo = total // 2 if total > 0 else 0
                hi = total - lo if total > 0 else total
                pads += [-lo, -hi]
            if any(pads):
                y = F.pad(y, pads)
        if self.seq:
            y = y.transpose(1, 2)
        return y if self.act is None else self.act(y)


# ---------------------------------------------------------------- pooling


class Pool(nn.Module):
    def __init__(self, nd: int, mode: str, k, s, padding: str, seq: bool = False):
        super().__init__()
        self.nd, self.mode, self.k, self.s, self.same, self.seq = nd, mode, tuple(k), tuple(s), padding == "same", seq
        self.fn = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d, ("max", 3): F.max_pool3d,
                   ("avg", 1): F.avg_pool1d, ("avg", 2): F.avg_pool2d, ("avg", 3): F.avg_pool3d}[(mode, nd)]

    def forward(self, x):
        if self.seq:
            x = x.transpose(1, 2)
        if self.same:
            pads = _pad_for(x, self.k, self.s, (1,) * self.nd, self.nd)
            if any(pads):
                if self.mode == "max":
                    y = self.fn(F.pad(x, pads, value=float("-inf")), self.k, self.s)
                else:  # average over the real values only
                    ones = torch.ones_like(x[:1, :1])
                    y = self.fn(F.pad(x, pads), self.k, self.s) / self.fn(F.pad(ones, pads), self.k, self.s)
            else:
                y = self.fn(x, self.k, self.s)
        else:
            y = self.fn(x, self.k, self.s)
        return y.transpose(1, 2) if self.seq else y


class GlobalPool(nn.Module):
    def __init__(self, mode: str, dims: tuple[int, ...], keepdims: bool):
        super().__init__()
        self.mode, self.dims, self.keepdims = mode, dims, keepdims

    supports_masks = True

    def forward(self, x, masks=None):
        mask = masks[0] if masks else None
        if mask is not None and self.dims == (1,) and x.dim() == 3:  # sequences: padded steps do not count
            m = mask.unsqueeze(-1)
            if self.mode == "max":
                return x.masked_fill(~m, float("-inf")).amax(dim=1, keepdim=self.keepdims)
            return (x * m).sum(dim=1, keepdim=self.keepdims) / m.sum(dim=1, keepdim=self.keepdims).clamp_min(1)
        if self.mode == "max":
            return x.amax(dim=self.dims, keepdim=self.keepdims)
        return x.mean(dim=self.dims, keepdim=self.keepdims)


# ---------------------------------------------------------------- reshaping


class Pad(nn.Module):
    """Zero padding (positive) or cropping (negative) of the spatial axes; pads in F.pad order."""

    def __init__(self, pads: list[int], seq: bool = False):
        super().__init__()
        self.pads, self.seq = list(pads), seq

    def forward(self, x):
        if self.seq:
            return F.pad(x.transpose(1, 2), self.pads).transpose(1, 2)
        return F.pad(x, self.pads)


class UpSample(nn.Module):
    def __init__(self, size: tuple[int, ...], mode: str, seq: bool = False):
        super().__init__()
        self.size, self.mode, self.seq = tuple(float(s) for s in size), mode, seq

    def forward(self, x):
        if self.seq:  # (N, T, F): repeat each step
            return x.repeat_interleave(int(self.size[0]), dim=1)
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=self.size, mode="nearest")
        return F.interpolate(x, scale_factor=self.size, mode=self.mode, align_corners=False)


# ---------------------------------------------------------------- noise and dropout


class GaussianNoise(nn.Module):
    def __init__(self, stddev: float):
        super().__init__()
        self.stddev = stddev

    def forward(self, x):
        if self.training and self.stddev > 0:
            return x + torch.randn_like(x) * self.stddev
        return x


class GaussianDropout(nn.Module):
    def __init__(self, rate: float):
        super().__init__()
        self.std = math.sqrt(rate / (1.0 - rate)) if rate < 1 else 0.0

    def forward(self, x):
        if self.training and self.std > 0:
            return x * (1.0 + torch.randn_like(x) * self.std)
        return x


class SpatialDropout1D(nn.Module):
    """Drops whole features of a (N, T, F) sequence (the same ones at every step)."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        return F.dropout1d(x.transpose(1, 2), self.rate, True).transpose(1, 2)


# ---------------------------------------------------------------- activation layers


class ReLU(nn.Module):
    def __init__(self, max_value, negative_slope: float, threshold: float):
        super().__init__()
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def forward(self, x):
        if self.negative_slope == 0 and self.threshold == 0:
            y = F.relu(x)
        else:
            y = torch.where(x >= self.threshold, x, self.negative_slope * (x - self.threshold))
        if self.max_value is not None:
            y = y.clamp(max=self.max_value)
        return y


class PReLU(nn.Module):
    def __init__(self, shape: tuple[int, ...], init: str):
        super().__init__()
        self.alpha = nn.Parameter(torch.empty(shape))
        init_(self.alpha, init)

    def forward(self, x):
        return F.relu(x) - self.alpha * F.relu(-x)


# ---------------------------------------------------------------- normalization


class BatchNorm(nn.Module):
    """BatchNorm over axis `axis` (index without batch) of an input of rank `rank` (without batch)."""

    def __init__(self, rank: int, axis: int, n: int, eps: float, momentum: float, center: bool, scale: bool):
        super().__init__()
        self.move = axis != 0 or rank > 4
        # the channel axis in place: torch's own BatchNorm of that rank; any other axis: moved to 1, as (N, C, L)
        cls = nn.BatchNorm1d if self.move else {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d,
                                                 4: nn.BatchNorm3d}[rank]
        self.axis = axis + 1
        self.bn = cls(n, eps=eps, momentum=momentum, affine=True)
        if not center:
            self.bn.bias.requires_grad_(False)
        if not scale:
            self.bn.weight.requires_grad_(False)

    def forward(self, x):
        if not self.move:
            return self.bn(x)
        y = self.bn(x.movedim(self.axis, 1).reshape(x.shape[0], x.shape[self.axis], -1))
        moved_shape = x.movedim(self.axis, 1).shape
        return y.reshape(moved_shape).movedim(1, self.axis)


class LayerNorm(nn.LayerNorm):
    pass


# ---------------------------------------------------------------- merge


class Merge(nn.Module):
    def __init__(self, op: str):
        super().__init__()
        self.op = op

    def forward(self, *xs):
        op = self.op
        y = xs[0]
        if op == "subtract":
            return xs[0] - xs[1]
        for x in xs[1:]:
            if op in ("add", "average"):
                y = y + x
            elif op == "multiply":
                y = y * x
            elif op == "maximum":
                y = torch.maximum(y, x)
            elif op == "minimum":
                y = torch.minimum(y, x)
        if op == "average":
            y = y / len(xs)
        return y


class Concatenate(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim)


class Dot(nn.Module):
    """Batch dot product along axes (a_axis, b_axis) (indices with batch = 0), optionally of l2-normalised inputs."""

    def __init__(self, a_axis: int, b_axis: int, normalize: bool):
        super().__init__()
        self.a, self.b, self.normalize = a_axis, b_axis, normalize

    def forward(self, x, y):
        if self.normalize:
            x = F.normalize(x, dim=self.a)
            y = F.normalize(y, dim=self.b)
        if x.dim() == 2:
            return (x * y).sum(dim=1, keepdim=True)
        xa = x.movedim(self.a, -1)  # (N, P, K)
        yb = y.movedim(self.b, 1)  # (N, K, Q)
        return torch.bmm(xa, yb)


# ---------------------------------------------------------------- embedding


class Embedding(nn.Embedding):
    def compute_mask(self, x):  # mask_zero: id 0 is padding
        return x != 0

    def forward(self, x):
        if x.dtype not in (torch.int64, torch.int32):
            x = x.long()
        return F.embedding(x, self.weight)


# ---------------------------------------------------------------- recurrent: _recurrent_modules.py


# ---------------------------------------------------------------- wrappers (attention: _attention_modules.py)


class TimeDistributed(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.layer = inner

    def forward(self, x):  # (N, T, ...) -> inner on (N*T, ...) -> (N, T, ...)
        n, t = x.shape[0], x.shape[1]
        y = self.layer(x.reshape((n * t,) + tuple(x.shape[2:])))
        if isinstance(y, tuple):
            y = y[0]
        return y.reshape((n, t) + tuple(y.shape[1:]))


class Crop(nn.Module):
    """Crops (lo, hi) from each of the last nd axes (or from T of a (N, T, F) sequence)."""

    def __init__(self, crops: list[tuple[int, int]], seq: bool = False):
        super().__init__()
        self.crops, self.seq = [tuple(c) for c in crops], seq

    def forward(self, x):
        if self.seq:
            lo, hi = self.crops[0]
            return x[:, lo:x.shape[1] - hi]
        nd = len(self.crops)
        idx = [slice(None)] * (x.dim() - nd)
        for i, (lo, hi) in enumerate(self.crops):
            idx.append(slice(lo, x.shape[x.dim() - nd + i] - hi))
        return x[tuple(idx)]
