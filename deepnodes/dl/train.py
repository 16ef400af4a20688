"""The training loop: losses, optimizers, callbacks (early stopping, reduce LR, keep best, NaN), devices.

    result = train(network, [x], [y], TrainingOptions(epochs=5), [LossSpec("sparse_categorical_crossentropy")])

`x` / `y` are `deepnodes.dl.convert.Converted` (or plain tensors): whole columns converted once. Batches are
sliced from them (one gather per tensor per batch, cast to the network's dtype on the way): no per-sample
Python, no DataLoader. Metrics are accumulated as tensors on the device and read out only when a callback
is due (`metrics_interval`), so a CUDA run does not synchronise on every batch.

The input network is not changed: training works on a copy. One seed drives initialisation (when the
network's module is not built yet), shuffling (its own generator) and dropout (torch's global generator).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from deepnodes.core.node import Cancelled

from .convert import Converted, output_activation
from .network import Network
from .options import LOSSES, TrainingOptions

CLASS_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy")


class TrainingError(ValueError):
    """Training cannot go on (a NaN loss, a target that does not fit); one sentence for the user."""


# =========================================================================== losses
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


def _logits(loss: LossSpec, act: str | None) -> bool:
    if loss.from_logits is not None:
        return loss.from_logits
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

    def __call__(self, pred, target, weighted: bool = True):
        """(loss, correct, counted): loss a scalar tensor; correct/counted tensors or None (no accuracy)."""
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


# =========================================================================== optimizers and parameters
def make_optimizer(opts: TrainingOptions, groups: list[dict]):
    o = opts
    lr = o.learning_rate
    betas = (o.beta_1, o.beta_2)
    wd = o.weight_decay
    name = o.optimizer
    if name == "sgd":
        if o.nesterov and o.momentum <= 0:
            raise TrainingError("option 'nesterov' needs a momentum above 0 (option 'momentum')")
        return torch.optim.SGD(groups, lr=lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=o.epsilon, weight_decay=wd, amsgrad=o.amsgrad)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=o.epsilon, weight_decay=wd or 0.01, amsgrad=o.amsgrad)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, alpha=o.rho, eps=o.epsilon, momentum=o.momentum, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr, eps=o.epsilon, weight_decay=wd)
    if name == "adadelta":
        return torch.optim.Adadelta(groups, lr=lr, rho=o.rho, eps=o.epsilon, weight_decay=wd)
    if name == "adamax":
        return torch.optim.Adamax(groups, lr=lr, betas=betas, eps=o.epsilon, weight_decay=wd)
    if name == "nadam":
        return torch.optim.NAdam(groups, lr=lr, betas=betas, eps=o.epsilon, weight_decay=wd)
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


# =========================================================================== the loop
@dataclass
class TrainResult:
    network: Network
    history: list[dict] = field(default_factory=list)
    stopped: str = ""  # "", "stop requested", "early stopping"
    best_epoch: int | None = None
    epochs_done: int = 0


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


class _Better:
    def __init__(self, monitor: str, min_delta: float):
        self.max = "acc" in monitor
        self.min_delta = min_delta
        self.best = -math.inf if self.max else math.inf

    def improved(self, v: float) -> bool:
        if v is None or math.isnan(v):
            return False
        return v > self.best + self.min_delta if self.max else v < self.best - self.min_delta


def _state(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def train(network: Network, x: Sequence, y: Sequence, opts: TrainingOptions | None = None,
          losses: Sequence[LossSpec | None] | None = None, *, val_x: Sequence | None = None,
          val_y: Sequence | None = None, on_batch: Callable[[dict], None] | None = None,
          on_epoch: Callable[[dict], None] | None = None, should_stop: Callable[[], bool] | None = None,
          check_cancelled: Callable[[], None] | None = None, log: Callable[[str], None] | None = None,
          device: str | None = None) -> TrainResult:
    """Train a copy of `network` on inputs `x` (one per network input) and targets `y` (one per output;
    None for an output without a loss). Returns the trained copy and one history row per epoch."""
    opts = opts or TrainingOptions()
    log = log or (lambda s: None)
    x = [_as_conv(t) for t in x]
    y = [None if t is None else _as_conv(t) for t in y]
    n = len(x[0])
    if n == 0:
        raise TrainingError("the training table is empty")
    for t in list(x) + [t for t in y if t is not None]:
        if len(t) != n:
            raise TrainingError(f"all inputs and targets need the same number of rows; got {n} and {len(t)}")
    has_val = val_x is not None and val_y is not None and len(val_x) and len(_as_conv(val_x[0]))
    if has_val:
        val_x = [_as_conv(t) for t in val_x]
        val_y = [None if t is None else _as_conv(t) for t in val_y]

    dev = resolve_device(device if opts.device == "auto" and device else opts.device)
    torch.manual_seed(opts.seed)
    net = network.copy()
    if not net.built:
        net.metadata["seed"] = opts.seed
        if net._builder is not None:
            try:  # the layer catalogue's builder seeds each layer from (seed, layer name)
                net._module = net._builder(net.spec, seed=opts.seed)
            except TypeError:
                pass
    module = net.module
    module.to(dev)
    apply_freezing(net, module)
    opt = make_optimizer(opts, param_groups(module, opts))
    bn_frozen = frozen_batchnorms(module) if opts.freeze_batchnorm else []
    reg = regularization_term(net, module)

    losses = list(losses) if losses is not None else [LossSpec("mse")] * len(y)
    fns: list[LossFn | None] = []
    for i, ls in enumerate(losses):
        if ls is None or i >= len(y) or y[i] is None:
            fns.append(None)
            continue
        fns.append(LossFn(ls, _logits(ls, output_activation(net, i)), dev))
    if not any(fns):
        raise TrainingError("no network output has a target and a loss")
    acc_i = next((i for i, f in enumerate(fns) if f is not None and f.classify), None)
    out_names = [t.name for t in net.spec.outputs] or [f"output_{i}" for i in range(len(fns))]

    amp = opts.mixed_precision and dev.type == "cuda"
    if opts.mixed_precision and not amp:
        log("mixed precision needs CUDA; training in float32 on the CPU")
    amp_dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if amp and amp_dtype == torch.float16 else None

    def place(ts: list[Converted | None]) -> list[Converted | None]:
        if dev.type == "cpu":
            return ts
        out = []
        for t in ts:
            if t is None:
                out.append(None)
                continue
            try:
                out.append(Converted(t.data.to(dev), t.dtype, t.converter, t.classes, t.num_classes))
            except torch.OutOfMemoryError:  # too large for the device: gather on the host, copy per batch
                out.append(t)
        return out

    x, y = place(x), place(y)
    if has_val:
        val_x, val_y = place(val_x), place(val_y)
    gen = torch.Generator().manual_seed(opts.seed)
    bs = opts.batch_size
    nb = (n + bs - 1) // bs

    def batch(ts, idx, sl):
        out = []
        for t in ts:
            if t is None:
                out.append(None)
                continue
            d = t.data[sl] if idx is None else t.data.index_select(0, idx if t.data.device == idx.device else idx.to(t.data.device))
            if d.device != dev:
                d = d.to(dev, non_blocking=True)
            out.append(d if d.dtype == t.dtype else d.to(t.dtype))
        return out

    def forward_loss(xb, yb, weighted=True):
        outs = net.forward(*xb)
        total = None
        parts = []
        correct = counted = None
        for i, fn in enumerate(fns):
            if fn is None:
                parts.append(None)
                continue
            lo, c, k = fn(outs[i], yb[i], weighted)
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
    better = _Better(monitor, opts.min_delta)
    plateau = _Better(monitor, opts.min_delta)
    wait = lr_wait = 0
    best_state = None
    best_epoch = None
    last_complete = _state(module) if check_cancelled is not None else None
    stopped = ""
    step = 0
    result = TrainResult(net)
    zero = torch.zeros((), device=dev)

    try:
        for epoch in range(1, opts.epochs + 1):
            module.train()
            for m in bn_frozen:
                m.eval()
            perm = torch.randperm(n, generator=gen) if opts.shuffle else None
            if perm is not None and dev.type != "cpu":
                perm = perm.to(dev)
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
                    stopped = "stop requested"
                    break
                lo_i, hi_i = b * bs, min(n, (b + 1) * bs)
                idx = perm[lo_i:hi_i] if perm is not None else None
                xb = batch(x, idx, slice(lo_i, hi_i))
                yb = batch(y, idx, slice(lo_i, hi_i))
                m_b = hi_i - lo_i
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
                step += 1
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
                if on_batch is not None and (now - last_emit >= opts.metrics_interval or b == nb - 1):
                    last_emit = now
                    lv = float(loss_sum) / seen
                    if opts.terminate_on_nan and not math.isfinite(lv):
                        raise TrainingError(f"the loss became {lv} in epoch {epoch} (batch {b + 1}); try a lower "
                                            f"learning rate, gradient clipping or check the inputs for huge values")
                    mv = {"loss": lv, "lr": opt.param_groups[0]["lr"], "samples_per_s": seen / max(now - t0, 1e-9)}
                    if acc_i is not None:
                        mv["accuracy"] = float(corr_sum) / max(float(cnt_sum) + cnt_int, 1)
                    on_batch({"epoch": epoch, "batch": b + 1, "batches": nb, "step": step, "values": mv})
            secs = time.perf_counter() - t0
            if stopped and seen == 0:
                break
            row: dict[str, Any] = {"epoch": epoch, "loss": float(loss_sum) / max(seen, 1)}
            if acc_i is not None:
                row["accuracy"] = float(corr_sum) / max(float(cnt_sum) + cnt_int, 1)
            if len(fns) > 1:
                for k, fn in enumerate(fns):
                    if fn is not None:
                        row[f"loss_{out_names[k]}"] = float(part_sums[k]) / max(seen, 1)
            if not math.isfinite(row["loss"]) and opts.terminate_on_nan:
                raise TrainingError(f"the loss became {row['loss']} in epoch {epoch}; try a lower learning rate, "
                                    f"gradient clipping or check the inputs for huge values")
            if has_val and not stopped:
                row.update(evaluate(net, val_x, val_y, fns, opts.validation_batch_size, dev, amp, amp_dtype, acc_i,
                                    check_cancelled, prefix="val_"))
            row["lr"] = opt.param_groups[0]["lr"]
            row["seconds"] = secs
            row["samples_per_s"] = seen / max(secs, 1e-9)
            if stopped:
                row["partial"] = True
            history.append(row)
            result.epochs_done = epoch if not stopped else epoch - 1
            if on_epoch is not None:
                on_epoch({"epoch": epoch, "epochs": opts.epochs, "step": step, "values": dict(row)})
            if stopped:
                break
            cur = row.get(monitor)
            if cur is None:
                raise TrainingError(f"option 'monitor': there is no metric '{opts.monitor}'; the metrics are "
                                    f"{', '.join(k for k in row if k not in ('epoch', 'seconds'))}")
            if better.improved(cur):
                better.best = cur
                best_epoch = epoch
                wait = 0
                if opts.keep_best or (opts.early_stopping and opts.restore_best_weights):
                    best_state = _state(module)
            else:
                wait += 1
            if opts.reduce_lr_on_plateau:
                if plateau.improved(cur):
                    plateau.best = cur
                    lr_wait = 0
                else:
                    lr_wait += 1
                    if lr_wait > opts.lr_patience:
                        for g in opt.param_groups:
                            g["lr"] = max(opts.min_lr, g["lr"] * opts.lr_factor)
                        log(f"epoch {epoch}: {monitor} has not improved for {lr_wait} epochs; learning rate "
                            f"now {opt.param_groups[0]['lr']:.3g}")
                        lr_wait = 0
            if last_complete is not None:
                last_complete = _state(module)
            if opts.early_stopping and wait > opts.patience:
                stopped = "early stopping"
                log(f"early stopping after epoch {epoch}: {monitor} has not improved for {wait} epochs "
                    f"(best {better.best:.4g} in epoch {best_epoch})")
                break
    except Cancelled:
        if last_complete is not None:
            module.load_state_dict(last_complete)
        module.eval()
        result.history = [h for h in history if not h.get("partial")]
        _finish(net, result, opts, x, y)
        raise TrainingCancelled(result) from None

    if best_state is not None and best_epoch is not None and not stopped == "stop requested":
        module.load_state_dict(best_state)
        if best_epoch != len(history):
            log(f"kept the weights of epoch {best_epoch} (best {monitor} {better.best:.4g})")
    module.eval()
    result.history = history
    result.stopped = stopped
    result.best_epoch = best_epoch
    _finish(net, result, opts, x, y)
    return result


def _finish(net: Network, result: TrainResult, opts: TrainingOptions, x, y) -> None:
    net.module.to("cpu")
    md = net.metadata
    md["history"] = list(md.get("history", [])) + result.history
    md["seed"] = md.get("seed", opts.seed)
    md["trained"] = True
    md["training"] = {"epochs": result.epochs_done, "optimizer": opts.optimizer,
                      "learning_rate": opts.learning_rate, "batch_size": opts.batch_size, "seed": opts.seed}
    for t in y:
        if t is not None and t.classes:
            md["class_names"] = list(t.classes)
            break


@torch.no_grad()
def evaluate(net: Network, xs, ys, fns, batch_size: int, dev, amp=False, amp_dtype=None, acc_i=None,
             check_cancelled=None, prefix: str = "") -> dict:
    """Loss (unweighted) and accuracy of `net` on converted tensors, in batches."""
    module = net.module
    was = module.training
    module.eval()
    n = len(xs[0])
    loss_sum = torch.zeros((), device=dev)
    corr = torch.zeros((), device=dev)
    cnt = torch.zeros((), device=dev)
    for lo in range(0, n, batch_size):
        if check_cancelled is not None:
            check_cancelled()
        sl = slice(lo, min(n, lo + batch_size))
        xb = [t.data[sl].to(dev).to(t.dtype) for t in xs]
        yb = [None if t is None else t.data[sl].to(dev) for t in ys]
        if amp:
            with torch.autocast("cuda", dtype=amp_dtype):
                outs = net.forward(*xb)
        else:
            outs = net.forward(*xb)
        total = None
        for i, fn in enumerate(fns):
            if fn is None:
                continue
            lo_, c, k = fn(outs[i], yb[i], weighted=False)
            total = lo_ * fn.spec.weight if total is None else total + lo_ * fn.spec.weight
            if i == acc_i:
                corr += c
                cnt += k
        loss_sum += total * (sl.stop - sl.start)
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


__all__ = ["LossSpec", "TrainResult", "TrainingCancelled", "TrainingError", "train", "evaluate", "history_table",
           "default_loss", "output_activation"]
