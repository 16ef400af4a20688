"""The translation encoder-decoder of examples/translation_en_de.json as a user writes it by hand in plain PyTorch
(the baseline of bench_seq2seq_vs_handwritten.py): the same English-German pairs and subword ids (the workflow's
own tokenizer nodes run first, as a user would reuse a tokenizer), padded to the longest sequence; Embedding 128
-> LSTM 256 encoder whose final states start the LSTM 256 decoder, Luong dot attention over the encoder outputs
(padded source steps masked), [context, decoder] -> Linear 256 tanh -> Dropout 0.3 -> Linear over 2,000 subwords,
CrossEntropyLoss on logits (padding ignored, label smoothing 0.1), default Adam (lr 2e-3), gradient norm clipped
at 1, batch 64, a .item() per batch, validation loss after every epoch.

Run: .venv/bin/python benchmarks/handwritten_seq2seq.py --pairs 2000 --val 200 --epochs 1   (prints one JSON line)
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]


def tokenized(pairs: int, val: int):
    """(source, decoder input, decoder target) id tensors of the training and validation pairs, padded with 0."""
    sys.path.insert(0, str(ROOT))
    from deepnodes.core import Engine, Workflow

    wf = Workflow.load(ROOT / "examples" / "translation_en_de.json")
    wf.set_option("train_pairs", "limit", pairs)
    wf.set_option("val_pairs", "limit", val)
    eng = Engine(wf)
    assert eng.run(nodes=["train_tgt", "val_tgt"]).ok

    def pad(table, column):
        return nn.utils.rnn.pad_sequence([torch.tensor(s, dtype=torch.long) for s in table.column(column).to_pylist()],
                                         batch_first=True)

    return [tuple(pad(eng.output(n), c) for c in ("source", "german_input", "german_target"))
            for n in ("train_tgt", "val_tgt")]


class Seq2Seq(nn.Module):
    def __init__(self, vocab: int = 2000):
        super().__init__()
        self.src_emb = nn.Embedding(vocab, 128)
        self.encoder = nn.LSTM(128, 256, batch_first=True)
        self.tgt_emb = nn.Embedding(vocab, 128)
        self.decoder = nn.LSTM(128, 256, batch_first=True)
        self.attentional = nn.Linear(512, 256)
        self.dropout = nn.Dropout(0.3)
        self.out = nn.Linear(256, vocab)

    def forward(self, src, tgt_in):
        enc, state = self.encoder(self.src_emb(src))
        dec, _ = self.decoder(self.tgt_emb(tgt_in), state)
        scores = dec @ enc.transpose(1, 2)
        scores = scores.masked_fill((src == 0).unsqueeze(1), float("-inf"))
        context = torch.softmax(scores, dim=-1) @ enc
        h = torch.tanh(self.attentional(torch.cat([context, dec], dim=-1)))
        return self.out(self.dropout(h))


def train_epoch(model, opt, loss_fn, data, perm) -> float:
    """One pass in batches of 64; the summed loss (a .item() per batch, as scripts print or log it)."""
    total = 0.0
    for idx in perm.split(64):
        src, tin, tout = (t[idx] for t in data)
        loss = loss_fn(model(src, tin).flatten(0, 1), tout.flatten())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total += loss.item() * len(idx)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--val", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    t_start = time.perf_counter()
    (src, tin, tout), (vsrc, vtin, vtout) = tokenized(a.pairs, a.val)
    torch.manual_seed(1)
    model = Seq2Seq()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)
    train_seconds, total, val_loss = 0.0, 0.0, None
    for epoch in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        total += train_epoch(model, opt, loss_fn, (src, tin, tout), torch.randperm(len(src)))
        train_seconds += time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            vs = [F.cross_entropy(model(vsrc[i:i + 64], vtin[i:i + 64]).transpose(1, 2), vtout[i:i + 64],
                                  ignore_index=0).item() * len(vsrc[i:i + 64]) for i in range(0, len(vsrc), 64)]
        val_loss = sum(vs) / len(vsrc)
    print(json.dumps({"samples_per_s": a.epochs * len(src) / train_seconds, "loss": total / (a.epochs * len(src)),
                      "val_loss": val_loss, "pairs": len(src), "source_steps": src.shape[1],
                      "target_steps": tin.shape[1], "seconds": time.perf_counter() - t_start}))


if __name__ == "__main__":
    main()
