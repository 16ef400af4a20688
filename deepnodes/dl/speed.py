"""What the Learner chooses for speed, from the network and the device, before the first batch.

    plan = speed_plan(module, dev, opts)    # once per training run
    module = plan.prepare(module)           # memory format of the weights
    xb = plan.batch(xb)                     # each input batch in the same memory format
    opt = make_optimizer(opts, groups, plan.optimizer_kwargs)

- channels_last (channels_last_3d) for networks with 2D (3D) convolutions, on the CPU and CUDA: oneDNN and cuDNN
  run NHWC convolutions faster; results are the same up to float rounding. The trained network is handed back
  in the default (contiguous) format.
- the fused (one kernel for all weights) optimizer step where torch offers it for the optimizer and device,
  else the foreach (multi-tensor) step; both compute the same update as the per-weight loop.
- `torch.compile` only when the user asks (`compile: true`): it costs its compile time on every run and was
  slower on the example CNN on this CPU.
- on CUDA, host batches are copied from pinned memory without blocking.
- a convolution's ReLU (ReLU6, LeakyReLU) followed only by a max pooling runs after the pooling instead: max and a
  non-decreasing activation commute, so values and gradients are the same, on a quarter of the elements (the
  example CNN trained 1.6x faster on this CPU). `restore` puts every activation back where its layer had it.
- a softmax that ends a network output read by a categorical cross-entropy is left out while training, and the loss
  reads the logits (`plan.use_logits(module, fns)`): one fused log-softmax instead of softmax, clamp and log, as
  Keras does when a softmax output meets its cross-entropy; the same loss and gradients up to float rounding (and
  the 1e-7 clamp, which only blocked the gradient of near-zero probabilities). `restore` puts the softmax back.

`speedups=False` (a keyword of `train`) gives the plain path a hand-written script takes: the benchmark and the
tests compare the two.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

# torch 2.13 has fused CPU and CUDA kernels for these (torch.optim's `_get_fused_kernels_supported_devices`)
_FUSED = {"adam", "adamw", "sgd", "adagrad"}
_FOREACH = {"adam", "adamw", "sgd", "adagrad", "rmsprop", "adadelta", "adamax", "nadam"}


def conv_format(module) -> torch.memory_format | None:
    """channels_last for a network with a 2D convolution, channels_last_3d for one with only 3D ones."""
    kinds = {type(m) for m in module.modules()}
    if kinds & {torch.nn.Conv2d, torch.nn.ConvTranspose2d}:
        return torch.channels_last
    if kinds & {torch.nn.Conv3d, torch.nn.ConvTranspose3d}:
        return torch.channels_last_3d
    return None


def _fused_ok(params: list, dev: torch.device) -> bool:
    return dev.type in ("cpu", "cuda") and all(p.is_floating_point() and p.device.type == dev.type for p in params)


@dataclass
class SpeedPlan:
    memory_format: torch.memory_format | None = None
    optimizer_kwargs: dict = field(default_factory=dict)
    compile: bool = False
    pin: bool = False
    pool_first: bool = False
    logits: bool = False  # may train class losses of softmax outputs on the logits (`use_logits`)
    softmax_left_out: int = 0

    @property
    def rank(self) -> int | None:
        return {torch.channels_last: 4, torch.channels_last_3d: 5}.get(self.memory_format)

    def prepare(self, module):
        if self.memory_format is not None:
            module.to(memory_format=self.memory_format)
        if self.pool_first:
            pool_before_activation(module)
        return module

    def batch(self, xs: list) -> list:
        """Inputs of the convolution's rank in its memory format (a no-op for data already laid out so)."""
        if self.memory_format is None:
            return xs
        r = self.rank
        return [x.contiguous(memory_format=self.memory_format) if x is not None and x.dim() == r
                and x.is_floating_point() else x for x in xs]

    def use_logits(self, module, fns: list) -> list[int]:
        """Outputs whose ending softmax is left out while training, their loss reading the logits instead
        (`softmax_outputs`); flips those `LossFn`s to logits. None when the plan is the plain one."""
        if not self.logits:
            return []
        done = []
        for i, (m, attr) in softmax_outputs(module).items():
            fn = fns[i] if i < len(fns) else None
            if fn is None or fn.logits or fn.spec.name not in _LOGIT_LOSSES or fn.spec.from_logits is not None:
                continue
            m.__dict__["moved_softmax"] = (attr, getattr(m, attr))  # a plain attribute: state_dict as built
            setattr(m, attr, torch.nn.Identity())
            fn.logits = True
            done.append(i)
        self.softmax_left_out = len(done)
        return done

    def forward(self, net):
        """The function the loop calls for a forward pass, (outputs, output masks): the network's own, or compiled."""
        return torch.compile(net.forward_masked) if self.compile else net.forward_masked

    def describe(self) -> str:
        parts = []
        if self.memory_format is not None:
            parts.append(str(self.memory_format).replace("torch.", ""))
        for k in ("fused", "foreach"):
            if self.optimizer_kwargs.get(k):
                parts.append(f"{k} optimizer step")
        if self.pool_first:
            parts.append("max pooling before the convolutions' activation")
        if self.softmax_left_out:
            parts.append("cross-entropy on the logits of the softmax outputs")
        if self.compile:
            parts.append("torch.compile")
        if self.pin:
            parts.append("pinned host batches")
        return ", ".join(parts)


def speed_plan(module, dev: torch.device, opts, enabled: bool = True) -> SpeedPlan:
    """The choices for training `module` on `dev` with options `opts` (all off when not `enabled`, but an explicit
    `compile: true` is always honoured)."""
    compile_ = bool(getattr(opts, "compile", False))
    if not enabled:
        return SpeedPlan(compile=compile_)
    params = [p for p in module.parameters() if p.requires_grad]
    kw: dict = {}
    name = opts.optimizer
    if name in _FUSED and _fused_ok(params, dev) and not (name == "sgd" and opts.nesterov and opts.momentum <= 0):
        kw["fused"] = True
    elif name in _FOREACH:
        kw["foreach"] = True
    return SpeedPlan(conv_format(module), kw, compile_, dev.type == "cuda", bool(_pool_pairs(module)), True)


_LOGIT_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")


def softmax_outputs(module) -> dict[int, tuple[torch.nn.Module, str]]:
    """Network outputs (by index) that end in a softmax over the last axis which no other layer reads: the module
    ending each (a Dense with activation softmax, or a Softmax activation layer) and the attribute holding it."""
    from .build import ChainModule, GraphModule
    from .layers._core_modules import Act, Dense

    def ending(m):
        attr = "act" if isinstance(m, Dense) else "fn" if isinstance(m, Act) else None
        act = getattr(m, attr, None) if attr else None
        return (m, attr) if isinstance(act, torch.nn.Softmax) and act.dim in (-1, None) else None

    if isinstance(module, ChainModule):
        last = list(module.children())[-1:]
        found = ending(last[0]) if last else None
        return {0: found} if found else {}
    if not isinstance(module, GraphModule):
        return {}
    read = {i for _, ins, _ in module.program for i in ins}
    writer = {o: name for name, _, outs in module.program if len(outs) == 1 for o in outs}
    out: dict[int, tuple[torch.nn.Module, str]] = {}
    for i, slot in enumerate(module.out_slots):
        found = ending(module._modules[writer[slot]]) if slot in writer else None
        if found and slot not in read and list(module.out_slots).count(slot) == 1:
            out[i] = found
    return out


_COMMUTING = (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.LeakyReLU)  # non-decreasing, piecewise linear


def _pool_pairs(module) -> list:
    """(convolution, max pooling) pairs of a layer graph where the convolution's activation commutes with the
    pooling and the pooling is the only reader of the convolution's output (not itself a network output)."""
    from .build import ChainModule, GraphModule
    from .layers._conv_modules import Conv
    from .layers._pooling_modules import Pool

    def fits(conv, pool) -> bool:
        return (isinstance(conv, Conv) and isinstance(pool, Pool) and pool.mode == "max" and pool.post is None
                and isinstance(conv.act, _COMMUTING) and getattr(conv.act, "negative_slope", 0.0) >= 0)

    if isinstance(module, ChainModule):
        mods = list(module.children())
        return [(a, b) for a, b in zip(mods, mods[1:]) if fits(a, b)]
    if not isinstance(module, GraphModule):
        return []
    readers: dict[int, list[str]] = {}
    for name, ins, _ in module.program:
        for i in ins:
            readers.setdefault(i, []).append(name)
    pairs = []
    for name, _, outs in module.program:
        r = readers.get(outs[0], [])
        if len(outs) == 1 and len(r) == 1 and outs[0] not in module.out_slots:
            conv, pool = module._modules[name], module._modules[r[0]]
            if fits(conv, pool):
                pairs.append((conv, pool))
    return pairs


def pool_before_activation(module) -> None:
    # plain attributes, not submodules: the module tree, its state_dict and DDP's view of it stay as built
    for conv, pool in _pool_pairs(module):
        pool.__dict__["post"], conv.__dict__["moved_act"] = conv.act, pool
        conv.act = None


def restore(module) -> None:
    """The network as its layers built it: the default memory layout, each activation back in its convolution."""
    for m in list(module.modules()):
        pool = m.__dict__.pop("moved_act", None)
        if pool is not None:
            m.act = pool.__dict__.pop("post")
        soft = m.__dict__.pop("moved_softmax", None)
        if soft is not None:
            setattr(m, *soft)
    module.to("cpu", memory_format=torch.contiguous_format)
