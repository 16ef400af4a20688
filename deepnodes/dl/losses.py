"""Losses of the training loop: one `LossFn` per network output, with the counts for its accuracy.

    fn = LossFn(LossSpec("sparse_categorical_crossentropy"), from_logits(spec, "softmax"), device)
    loss, correct, counted = fn(pred, target)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from .convert import Converted
from .options import LOSSES

CLASS_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy")


class TrainingError(ValueError):
    """Training cannot go on (a NaN loss, a target that does not fit); one sentence for the user."""


@dataclass
class LossSpec:
    """The loss of one network output. `from_logits=None`: decided from the network's output activation."""

    name: str = "mse"
    from_logits: bool | None = None
    class_weights: Sequence[float] | None = None
    label_smoothing: float = 0.0
    ignore_index: int | None = None  # sequence targets: this target value (padding) is left out
    weight: float = 1.0
    huber_delta: float = 1.0

    def __post_init__(self):
        if self.name not in LOSSES:
            raise ValueError(f"unknown loss '{self.name}'; choose one of {', '.join(LOSSES)}")


# losses whose formula differs for probabilities and logits
KIND_LOSSES = CLASS_LOSSES + ("kl_divergence", "poisson")


def from_logits(loss: LossSpec, act: str | None, output: str = "output") -> bool:
    """Whether `loss` reads logits: the loss's own setting, else the recorded activation of the output
    (softmax / sigmoid = probabilities, anything else = logits). An output whose activation is not recorded
    (a TorchScript or ONNX file from elsewhere, a module written in Python) is never guessed: a `TrainingError`."""
    if loss.from_logits is not None:
        return loss.from_logits
    if act is None:
        if loss.name not in KIND_LOSSES:
            return True  # regression losses do not depend on it
        raise TrainingError(f"whether network output '{output}' gives probabilities or logits is not recorded, so "
                            f"the {loss.name} loss cannot be chosen; set option 'targets.from_logits' (or the "
                            f"Network Reader's option 'output_activation')")
    if loss.name == "binary_crossentropy":
        return act != "sigmoid"
    return act != "softmax"


class LossFn:
    """One output's loss, plus the counts for its accuracy (classification losses)."""

    def __init__(self, spec: LossSpec, from_logits: bool, device):
        self.spec = spec
        self.logits = from_logits
        self.classify = spec.name in CLASS_LOSSES
        self.w = torch.as_tensor(list(spec.class_weights), dtype=torch.float32, device=device) \
            if spec.class_weights is not None else None

    def __call__(self, pred, target, weighted: bool = True, mask=None):
        """(loss, correct, counted): loss a scalar tensor; correct/counted tensors or None (no accuracy).
        `mask` (N, T), the output's padding mask: only the real positions count."""
        if mask is not None and tuple(mask.shape) == tuple(pred.shape[:2]) and \
                tuple(target.shape[:2]) == tuple(mask.shape) and pred.dim() > 2:
            pred, target = pred[mask], target[mask]
        s = self.spec
        name = s.name
        pred = pred.float()
        w = self.w if weighted else None
        if name == "sparse_categorical_crossentropy":
            v = pred.shape[-1]
            p2 = pred.reshape(-1, v)
            t = target.reshape(-1).long()
            mask = None
            if s.ignore_index is not None:
                mask = t != s.ignore_index
            ignore = -100 if mask is None else s.ignore_index
            if self.logits:
                loss = F.cross_entropy(p2, t, weight=w, ignore_index=ignore, label_smoothing=s.label_smoothing)
            elif not s.label_smoothing:  # probabilities: log, then one fused kernel (as a hand-written loop does)
                loss = F.nll_loss(torch.log(p2.clamp_min(1e-7)), t, weight=w, ignore_index=ignore)
            else:
                logp = torch.log(p2.clamp_min(1e-7))
                tt = t if mask is None else t.masked_fill(~mask, 0)
                nll = -logp.gather(1, tt.unsqueeze(1)).squeeze(1)
                if s.label_smoothing:
                    nll = (1 - s.label_smoothing) * nll - s.label_smoothing * logp.mean(-1)
                sw = w[tt] if w is not None else None
                if mask is not None:
                    m = mask.float()
                    sw = m if sw is None else sw * m
                loss = (nll * sw).sum() / sw.sum().clamp_min(1e-12) if sw is not None else nll.mean()
            hit = p2.argmax(-1) == t
            if mask is not None:
                return loss, (hit & mask).sum(), mask.sum()
            return loss, hit.sum(), t.numel()
        if name == "categorical_crossentropy":
            t = target.float().reshape(pred.shape)
            if s.label_smoothing:
                t = t * (1 - s.label_smoothing) + s.label_smoothing / pred.shape[-1]
            logp = F.log_softmax(pred, -1) if self.logits else torch.log(pred.clamp_min(1e-7))
            per = -(t * logp).sum(-1)
            if w is not None:
                sw = (t * w).sum(-1)
                loss = (per * sw).sum() / sw.sum().clamp_min(1e-12)
            else:
                loss = per.mean()
            hit = pred.argmax(-1) == t.argmax(-1)
            return loss, hit.sum(), hit.numel()
        if name == "binary_crossentropy":
            t = target.float().reshape(pred.shape)
            if s.label_smoothing:
                t = t * (1 - s.label_smoothing) + 0.5 * s.label_smoothing
            sw = None
            if w is not None:
                sw = torch.where(t > 0.5, w[min(1, len(w) - 1)], w[0])
            if self.logits:
                loss = F.binary_cross_entropy_with_logits(pred, t, weight=sw)
                hit = (pred > 0) == (t > 0.5)
            else:
                loss = F.binary_cross_entropy(pred.clamp(1e-7, 1 - 1e-7), t, weight=sw)
                hit = (pred > 0.5) == (t > 0.5)
            return loss, hit.sum(), hit.numel()
        t = target.float().reshape(pred.shape) if target.numel() == pred.numel() else target.float()
        if name == "mse":
            return F.mse_loss(pred, t), None, None
        if name == "mae":
            return F.l1_loss(pred, t), None, None
        if name == "huber":
            return F.huber_loss(pred, t, delta=s.huber_delta), None, None
        if name == "kl_divergence":
            logp = F.log_softmax(pred, -1) if self.logits else torch.log(pred.clamp_min(1e-7))
            tc = t.clamp_min(1e-7)
            return (t * (torch.log(tc) - logp)).sum(-1).mean(), None, None
        if name == "poisson":
            rate = torch.exp(pred) if self.logits else pred
            return (rate - t * torch.log(rate + 1e-7)).mean(), None, None
        if name == "cosine_similarity":
            return -F.cosine_similarity(pred.reshape(len(pred), -1), t.reshape(len(t), -1), dim=1).mean(), None, None
        raise ValueError(f"unknown loss '{name}'")


def default_loss(target: Converted | None, tensor_shape: Sequence, activation: str | None) -> str:
    """The loss 'auto' stands for."""
    conv = getattr(target, "converter", None)
    if conv in ("class_index", "tokens"):
        return "sparse_categorical_crossentropy"
    if conv == "one_hot":
        return "categorical_crossentropy"
    if activation == "sigmoid":
        return "binary_crossentropy"
    if activation == "softmax":
        return "categorical_crossentropy"
    return "mse"
