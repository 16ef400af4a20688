"""What one rank of a data-parallel group adds to the training loop (`train(..., dist=WorkerHooks(...))`).

The loop itself (`dl/train.py`) is the local one; these hooks are called at its fixed points:
- `wrap`: the forward pass goes through torch `DistributedDataParallel` (gradients averaged over the ranks in
  backward, buffers broadcast from rank 0), around the network's own masked forward.
- `check_cancelled` / `should_stop`: every `agree_every` batches the ranks agree (one all-reduce of a small
  integer) on whether to go on, stop (keep the model) or cancel; only rank 0 asks the driver (`poll`), at most
  every `poll_s` seconds. Every rank calls these equally often, so all leave the loop at the same batch and none
  waits in a collective forever.
- `all_sum`: the epoch's loss / accuracy sums and counts over every rank's shard, so the epoch row (and every
  callback's decision from it: early stopping, reduce-LR, keep-best, NaN) is the same on every rank.
- `epoch_end`: the state needed to continue (weights, optimizer, every rank's shuffling and dropout generators,
  history, callbacks' counters) goes to `on_checkpoint`; `resume` restores it in a restarted group, each rank its
  own streams, so a resumed run goes on exactly as the uninterrupted one (tested).
- `after_step`: with `check_sync`, a digest of the weights after every optimizer step (tests compare ranks).
"""
from __future__ import annotations

import hashlib
import time
from typing import Any, Callable

import torch
import torch.distributed as tdist

from deepnodes.core.node import Cancelled

from ..callbacks import state_of

GO, STOP, CANCEL = 0, 1, 2


class _MaskedForward(torch.nn.Module):
    """The network's forward (outputs, masks) as a module DDP can wrap; the network is its only child."""

    def __init__(self, module, fwd):
        super().__init__()
        self.net = module
        self._fwd = fwd

    def forward(self, *xs):
        return self._fwd(*xs)


class WorkerHooks:
    def __init__(self, rank: int, world: int, *, poll: Callable[[], int] | None = None, poll_s: float = 0.25,
                 resume_state: dict | None = None, on_checkpoint: Callable[[dict, int], None] | None = None,
                 check_sync: bool = False, agree_every: int = 4):
        self.rank, self.world = rank, world
        self.poll, self.poll_s = poll, poll_s
        self.resume_state = resume_state
        self.on_checkpoint = on_checkpoint
        self.check_sync = check_sync
        self.digests: list[str] = []
        self._code = GO
        self._asked = 0.0
        self._local = GO
        self._calls = 0
        self.agree_every = max(1, agree_every)
        self.device = torch.device("cpu")

    @property
    def stream_key(self) -> tuple:
        return () if self.rank == 0 else ("rank", self.rank)

    def wrap(self, module, fwd, dev, find_unused: bool = False):
        from torch.nn.parallel import DistributedDataParallel as DDP

        self.device = dev
        if not any(p.requires_grad for p in module.parameters()):
            return fwd  # nothing to synchronise (every layer frozen): DDP refuses such a module
        ids = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else None
        ddp = DDP(_MaskedForward(module, fwd), device_ids=ids, find_unused_parameters=find_unused)
        return ddp

    # -- agreement on stop / cancel ---------------------------------------------------------------------------
    def _agree(self) -> int:
        if self.poll is not None and self._local == GO:
            now = time.monotonic()
            if now - self._asked >= self.poll_s:
                self._asked = now
                self._local = max(self._local, int(self.poll() or GO))
        t = torch.tensor([self._local], dtype=torch.int32, device=self.device)
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
        return int(t.item())

    def check_cancelled(self) -> None:
        self._calls += 1
        if (self._calls - 1) % self.agree_every == 0:  # the first call, then every agree_every-th
            self._code = max(self._code, self._agree())
        if self._code >= CANCEL:
            raise Cancelled()

    def should_stop(self) -> bool:
        return self._code >= STOP

    # -- epoch sums, checkpoints -------------------------------------------------------------------------------
    def all_sum(self, sums: list, seen: int, cnt_int: int) -> tuple[int, int]:
        flat = torch.stack([s.detach().to(torch.float64).reshape(()) for s in sums] +
                           [torch.tensor(float(seen), dtype=torch.float64, device=sums[0].device),
                            torch.tensor(float(cnt_int), dtype=torch.float64, device=sums[0].device)])
        tdist.all_reduce(flat, op=tdist.ReduceOp.SUM)
        for s, v in zip(sums, flat[:len(sums)]):
            s.copy_(v.to(s.dtype))
        return int(flat[-2].item()), int(flat[-1].item())

    def after_step(self, module, step: int) -> None:
        if self.check_sync:
            h = hashlib.sha256()
            for p in module.parameters():
                h.update(p.detach().cpu().contiguous().numpy().tobytes())
            self.digests.append(h.hexdigest()[:16])

    def epoch_end(self, loop, epoch: int, step: int, history: list, cbs: list, gen, stream) -> None:
        if self.on_checkpoint is None:
            return
        # each rank draws its own shuffling and dropout streams: the checkpoint keeps every rank's, in rank order
        # (rank 0's alone would make every restarted rank draw rank 0's batches)
        own = (gen.get_state(), stream._cpu if stream is not None and stream._cpu is not None else None)
        ranks: list = [None] * self.world
        tdist.all_gather_object(ranks, own)
        state = {"epoch": epoch, "step": step, "module": state_of(loop.module),
                 "optimizer": loop.optimizer.state_dict(), "shuffle": [r[0] for r in ranks],
                 "dropout": [r[1] for r in ranks],
                 "history": [dict(h) for h in history], "callbacks": [callback_state(cb) for cb in cbs],
                 "stop": loop.stop}
        self.on_checkpoint(state, epoch)

    def resume(self, loop, cbs, gen, stream, history) -> tuple[int, int]:
        st = self.resume_state
        if not st:
            return 1, 0
        loop.module.load_state_dict(st["module"])
        loop.optimizer.load_state_dict(st["optimizer"])
        gen.set_state(st["shuffle"][self.rank])
        if stream is not None and st["dropout"][self.rank] is not None:
            stream._cpu = st["dropout"][self.rank]
        history.extend(dict(h) for h in st["history"])
        for cb, saved in zip(cbs, st["callbacks"]):
            restore_callback(cb, saved)
        loop.log(f"resumed after epoch {st['epoch']} from its checkpoint")
        return int(st["epoch"]) + 1, int(st["step"])


# -- callbacks' counters as plain data (weights-only checkpoints: no pickled objects) ----------------------------
_SKIP = object()


def _plain(v: Any, depth: int = 0):
    if v is None or isinstance(v, (bool, int, float, str)) or torch.is_tensor(v):
        return v
    if depth > 4:
        return _SKIP
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        out = {k: _plain(x, depth + 1) for k, x in v.items()}
        return _SKIP if any(x is _SKIP for x in out.values()) else out
    if isinstance(v, (list, tuple)):
        out = [_plain(x, depth + 1) for x in v]
        return _SKIP if any(x is _SKIP for x in out) else out
    if type(v).__module__.startswith("deepnodes.dl.callbacks"):  # a Monitor: its best value and mode
        return {"__fields__": {k: x for k, x in ((k, _plain(x, depth + 1)) for k, x in vars(v).items())
                               if x is not _SKIP}}
    return _SKIP


def callback_state(cb) -> dict:
    """The plain-data attributes of a callback (counters, best values, kept weights); handles are left out."""
    return {k: x for k, x in ((k, _plain(v)) for k, v in vars(cb).items()) if x is not _SKIP}


def restore_callback(obj, saved: dict) -> None:
    for k, v in saved.items():
        cur = getattr(obj, k, None)
        if isinstance(v, dict) and "__fields__" in v and cur is not None:
            restore_callback(cur, v["__fields__"])
        else:
            setattr(obj, k, v)
