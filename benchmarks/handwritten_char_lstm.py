"""The character LSTM of examples/language_model.json as a user writes it by hand in plain PyTorch (the baseline of
bench_lstm_vs_handwritten.py): the same KJV training verses (joined by line breaks), windows of 100 characters
with next-character targets at every step (step 100), Embedding 64 -> LSTM 256 -> Linear over the characters,
CrossEntropyLoss on logits, Adam (lr 2e-3), gradient norm clipped at 5, batch 64, a .item() per batch.

Run: .venv/bin/python benchmarks/handwritten_char_lstm.py --verses 3000 --epochs 1   (prints one JSON line)
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def windows(verses: int, length: int = 100):
    from deepnodes.datasets.registry import load_dataset  # only to read the same verses as the workflow

    text = "\n".join(load_dataset("kjv-bible", "train", limit=verses).column("text").to_pylist())
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    n = (len(ids) - 1) // length
    x = ids[:n * length].view(n, length)
    y = ids[1:n * length + 1].view(n, length)
    return x, y, len(chars)


class CharLSTM(nn.Module):
    def __init__(self, vocab: int):
        super().__init__()
        self.emb = nn.Embedding(vocab, 64)
        self.lstm = nn.LSTM(64, 256, batch_first=True)
        self.out = nn.Linear(256, vocab)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.out(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verses", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    t_start = time.perf_counter()
    torch.manual_seed(1)
    x, y, vocab = windows(a.verses)
    model = CharLSTM(vocab)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    train_seconds, total = 0.0, 0.0
    for epoch in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            out = model(x[idx])
            loss = F.cross_entropy(out.reshape(-1, vocab), y[idx].reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += loss.item() * len(idx)
        train_seconds += time.perf_counter() - t0
    print(json.dumps({"samples_per_s": a.epochs * len(x) / train_seconds, "loss": total / (a.epochs * len(x)),
                      "windows": len(x), "seconds": time.perf_counter() - t_start}))


if __name__ == "__main__":
    main()
