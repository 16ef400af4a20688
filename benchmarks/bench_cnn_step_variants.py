"""The example CNN's training steps in one process, plain PyTorch, in channels_last with the fused Adam and:
pool-first (the ReLU after the max pooling, `deepnodes/dl/speed.py`), a cheaper
dropout mask, in-place ReLU. Prints samples/s per variant and round (alternating), and bernoulli_ vs rand_like.

Run: .venv/bin/python benchmarks/bench_cnn_step_variants.py   (the figures of docs/benchmarks.md's pool-first note)
Variants are (pool_first, fast_dropout, inplace_relu).
"""
import time, torch, torch.nn as nn, torch.nn.functional as F, sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from handwritten_cnn import load
x, y = load("train", 6000)
class FastDrop(nn.Module):
    def forward(self, x):
        if not self.training: return x
        return x * ((torch.rand_like(x) >= 0.5).to(x.dtype) * 2.0)
def make(swap, fd, inplace):
    torch.manual_seed(1)
    R = lambda: nn.ReLU(inplace=inplace)
    a = [nn.Conv2d(1, 32, 3), R(), nn.MaxPool2d(2)] if not swap else [nn.Conv2d(1, 32, 3), nn.MaxPool2d(2), R()]
    b = [nn.Conv2d(32, 64, 3), R(), nn.MaxPool2d(2)] if not swap else [nn.Conv2d(32, 64, 3), nn.MaxPool2d(2), R()]
    return nn.Sequential(*a, *b, nn.Flatten(), FastDrop() if fd else nn.Dropout(0.5), nn.Linear(1600, 10)).to(memory_format=torch.channels_last)
def run(swap, fd, inplace):
    m = make(swap, fd, inplace)
    opt = torch.optim.Adam(m.parameters(), 1e-3, fused=True)
    perm = torch.randperm(len(x)); t = time.perf_counter()
    for i in range(0, len(x), 128):
        idx = perm[i:i+128]; xb, yb = x[idx], y[idx]
        xb = xb.contiguous(memory_format=torch.channels_last)
        opt.zero_grad(); out = m(xb); loss = F.cross_entropy(out, yb); loss.backward(); opt.step()
    return len(x) / (time.perf_counter() - t)
t = torch.empty(128,1600)
t0=time.perf_counter(); [t.bernoulli_(0.5) for _ in range(50)]; print("bernoulli", (time.perf_counter()-t0)/50*1e3, "ms")
t0=time.perf_counter(); [torch.rand_like(t) for _ in range(50)]; print("rand", (time.perf_counter()-t0)/50*1e3, "ms")
for rep in range(3):
    for cfg in [(0,0,0),(1,0,0),(0,1,0),(1,1,0),(1,1,1)]:
        print(rep, cfg, round(run(*cfg)), flush=True)
