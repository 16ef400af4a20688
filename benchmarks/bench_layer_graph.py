"""Forward + backward time of networks built from layer specs (`build_module`) against the same models written by
hand in PyTorch, side by side in one run. Prints the ratio hand-written time / built time (1.0 = same speed).

    nice -n 5 .venv/bin/python benchmarks/bench_layer_graph.py
"""
from __future__ import annotations

import time

import torch
from torch import nn

from deepnodes.dl import graph
from deepnodes.dl.build import build_module


def cnn_spec():
    s = graph.input_spec([1, 28, 28])
    for kind, cfg in [("Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}), ("MaxPooling2D", {}),
                      ("Conv2D", {"filters": 64, "kernel_size": 3, "activation": "relu"}), ("MaxPooling2D", {}),
                      ("Flatten", {}), ("Dropout", {"rate": 0.5}), ("Dense", {"units": 10, "activation": "softmax"})]:
        s, _ = graph.append_layer([s], kind, cfg)
    return s


def cnn_hand():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10), nn.Softmax(-1))


def lstm_spec():
    s = graph.input_spec([100], "int64")
    for kind, cfg in [("Embedding", {"input_dim": 80, "output_dim": 64}),
                      ("LSTM", {"units": 256, "return_sequences": True}), ("Dense", {"units": 80})]:
        s, _ = graph.append_layer([s], kind, cfg)
    return s


class LSTMHand(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(80, 64)
        self.lstm = nn.LSTM(64, 256, batch_first=True)
        self.out = nn.Linear(256, 80)

    def forward(self, x):
        return self.out(self.lstm(self.emb(x))[0])


def step_time(model, x, reps):
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        y = model(x)
        y = y[0] if isinstance(y, tuple) else y
        y.float().mean().backward()
        opt.step()

    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(reps):
        step()
    return (time.perf_counter() - t) / reps


def main():
    torch.manual_seed(0)
    cases = [("CNN batch 128", build_module(cnn_spec(), seed=0), cnn_hand(), torch.rand(128, 1, 28, 28), 20),
             ("char LSTM batch 64 x 100", build_module(lstm_spec(), seed=0), LSTMHand(),
              torch.randint(0, 80, (64, 100)), 5)]
    for name, built, hand, x, reps in cases:
        tb, th = [], []
        for _ in range(5):  # interleaved, best of 5
            tb.append(step_time(built, x, reps))
            th.append(step_time(hand, x, reps))
        print(f"{name}: built {min(tb) * 1e3:.1f} ms/step, hand-written {min(th) * 1e3:.1f} ms/step, "
              f"ratio {min(th) / min(tb):.3f}")


if __name__ == "__main__":
    main()
