"""The example CNN on Fashion-MNIST as a user writes it by hand in plain PyTorch (the baseline of
bench_train_vs_handwritten.py): default memory format, default Adam, CrossEntropyLoss on logits, a .item() per
batch for the running loss and accuracy, validation on 2,000 test rows each epoch, test accuracy at the end (both in
batches of 1,000 rows).

Run: .venv/bin/python benchmarks/handwritten_cnn.py --epochs 2 --rows 6000   (prints one JSON line)
"""
import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FOLDER = "/usr/share/datasets/fashion-mnist"


def load(prefix, rows=None):
    with gzip.open(f"{FOLDER}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{FOLDER}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.tensor(images[:rows], dtype=torch.float32) / 255.0, torch.tensor(labels[:rows], dtype=torch.long)


def accuracy(model, x, y):
    with torch.no_grad():
        hits = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, len(x), 1000))
    return hits / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rows", type=int, default=60000)
    a = ap.parse_args()
    t_start = time.perf_counter()
    torch.manual_seed(1)
    x, y = load("train", a.rows)
    tx, ty = load("t10k")
    vx, vy = tx[:2000], ty[:2000]
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_seconds = 0.0
    for epoch in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(x))
        total_loss, correct = 0.0, 0
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        train_seconds += time.perf_counter() - t0
        model.eval()
        val_acc = accuracy(model, vx, vy)
        print(f"epoch {epoch + 1}: loss {total_loss / len(x):.4f} acc {correct / len(x):.3f} val_acc {val_acc:.3f}",
              flush=True)
    test_acc = accuracy(model, tx, ty)
    print(json.dumps({"samples_per_s": a.epochs * len(x) / train_seconds, "test_accuracy": test_acc,
                      "seconds": time.perf_counter() - t_start}))


if __name__ == "__main__":
    main()
