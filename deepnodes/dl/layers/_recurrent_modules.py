"""torch side of the recurrent layers: SimpleRNN / GRU / LSTM (and Bidirectional) on torch's fused kernels.

Without a padding mask and without recurrent dropout a layer is one fused call. With a mask ((N, T) bool, True at
real steps) it runs step by step and a masked step carries the state and repeats the previous output, as in Keras,
so a padded batch gives the same outputs at its real steps as each sequence alone. `recurrent_dropout` drops
units of h where it enters the recurrent kernel (one draw per sequence, as in Keras).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._modules import init_


class Recurrent(nn.Module):
    """SimpleRNN / GRU / LSTM on (N, T, F), batch first, on torch's fused kernels.

    Outputs: the sequence (N, T, U) or the last step (N, U); with `return_state` also h (N, U) and, for an
    LSTM, c (N, U); bidirectional layers merge the two directions (`merge_mode`) and return the states of
    the forward then the backward direction.
    """

    def __init__(self, cell: str, in_f: int, units: int, activation_: str, bias: bool, return_sequences: bool,
                 return_state: bool, go_backwards: bool, dropout: float, bidirectional: bool = False,
                 merge_mode: str = "concat", recurrent_dropout: float = 0.0):
        super().__init__()
        kw = dict(batch_first=True, bias=bias, bidirectional=bidirectional)
        if cell == "LSTM":
            self.rnn = nn.LSTM(in_f, units, **kw)
        elif cell == "GRU":
            self.rnn = nn.GRU(in_f, units, **kw)
        else:
            self.rnn = nn.RNN(in_f, units, nonlinearity=activation_, **kw)
        self.lstm = cell == "LSTM"
        self.units, self.return_sequences, self.return_state = units, return_sequences, return_state
        self.go_backwards, self.bidirectional, self.merge_mode = go_backwards, bidirectional, merge_mode
        self.drop = nn.Dropout(dropout) if dropout > 0 else None
        self.recurrent_dropout = recurrent_dropout

    def _merge(self, a, b):
        m = self.merge_mode
        if m == "concat":
            return torch.cat([a, b], dim=-1)
        if m == "sum":
            return a + b
        if m == "mul":
            return a * b
        return (a + b) * 0.5

    supports_masks = True

    def forward(self, x, h0=None, c0=None, masks=None):
        mask = masks[0] if masks else None
        if self.go_backwards:
            x = x.flip(1)
            mask = mask.flip(1) if mask is not None else None
        if self.drop is not None:
            x = self.drop(x)
        state = None
        if h0 is not None:
            h0 = h0.unsqueeze(0) if not self.bidirectional else h0.reshape(x.shape[0], 2, self.units).transpose(0, 1)
            if self.lstm:
                if c0 is None:
                    c0 = torch.zeros_like(h0)
                else:
                    c0 = c0.unsqueeze(0) if not self.bidirectional else \
                        c0.reshape(x.shape[0], 2, self.units).transpose(0, 1)
                state = (h0.contiguous(), c0.contiguous())
            else:
                state = h0.contiguous()
        if mask is not None and torch.jit.is_tracing():  # the step loop would be traced at one length
            raise ValueError("a recurrent layer that reads a padding mask (Embedding mask_zero, Masking) does not "
                             "export to ONNX yet; export a network without the mask")
        stepwise = (mask is not None and not bool(mask.all())) or (self.recurrent_dropout > 0 and self.training)
        if stepwise:
            if self.bidirectional:
                raise ValueError("Bidirectional does not read a padding mask or use recurrent_dropout yet; put the "
                                 "mask on a one-way LSTM/GRU or pad without mask_zero")
            out, st = self._scan(x, state, mask)
        else:
            out, st = self.rnn(x, state)
        h = st[0] if self.lstm else st  # (D, N, U)
        if self.bidirectional:
            if self.return_sequences:
                y = self._merge(out[..., :self.units], out[..., self.units:])
            else:
                y = self._merge(h[0], h[1])
        else:
            y = out if self.return_sequences else h[0]
        if not self.return_state:
            return y
        if self.bidirectional:
            if self.lstm:
                return y, h[0], st[1][0], h[1], st[1][1]
            return y, h[0], h[1]
        if self.lstm:
            return y, h[0], st[1][0]
        return y, h[0]


    def _scan(self, x, state, mask):
        """Step by step (see the module docstring); returns what the fused call returns."""
        n, t, u = x.shape[0], x.shape[1], self.units
        z = x.new_zeros(1, n, u)
        if state is None:
            state = (z, z) if self.lstm else z
        h, c = (state if self.lstm else (state, None))
        keep = None
        if self.recurrent_dropout > 0 and self.training:
            p = self.recurrent_dropout
            keep = torch.bernoulli(x.new_full((1, n, u), 1 - p)) / (1 - p)
        gru = isinstance(self.rnn, nn.GRU)
        prev = x.new_zeros(n, u)
        outs = []
        for i in range(t):
            hd = h if keep is None else h * keep
            if gru:
                h_new = _gru_step(self.rnn, x[:, i], h[0], hd[0]).unsqueeze(0)
                y = h_new[0]
            else:
                o, st = self.rnn(x[:, i:i + 1], (hd.contiguous(), c) if self.lstm else hd.contiguous())
                h_new, y = (st[0] if self.lstm else st), o[:, 0]
                if self.lstm:
                    c_new = st[1]
            if mask is not None:
                m = mask[:, i].view(1, n, 1)
                h = torch.where(m, h_new, h)
                if self.lstm:
                    c = torch.where(m, c_new, c)
                y = torch.where(m[0], y, prev)
            else:
                h = h_new
                if self.lstm:
                    c = c_new
            prev = y
            outs.append(y)
        return torch.stack(outs, 1), ((h, c) if self.lstm else h)


def _gru_step(rnn: nn.GRU, x, h, hd):
    """One GRU step (torch's gate layout, reset after like Keras 3); `hd` (h with recurrent dropout) enters the
    recurrent kernel, the update mixes the undropped h."""
    gi = F.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0 if rnn.bias else None)
    gh = F.linear(hd, rnn.weight_hh_l0, rnn.bias_hh_l0 if rnn.bias else None)
    ir, iz, in_ = gi.chunk(3, -1)
    hr, hz, hn = gh.chunk(3, -1)
    r, zg = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    cand = torch.tanh(in_ + r * hn)
    return (1 - zg) * cand + zg * h


def init_recurrent(m: Recurrent, config: dict) -> None:
    kinit = config.get("kernel_initializer", "glorot_uniform")
    rinit = config.get("recurrent_initializer", "orthogonal")
    binit = config.get("bias_initializer", "zeros")
    gates = 4 if isinstance(m.rnn, nn.LSTM) else 3 if isinstance(m.rnn, nn.GRU) else 1
    u = m.units
    for name, p in m.rnn.named_parameters():
        with torch.no_grad():
            if name.startswith("weight_ih"):
                init_(p, kinit)  # Keras initialises the kernel as one (F, gates*U) matrix
            elif name.startswith("weight_hh"):
                for g in range(gates):  # orthogonal per gate block (U, U), like Keras' (U, gates*U) columns
                    init_(p[g * u:(g + 1) * u], rinit)
            elif name.startswith("bias_ih"):
                init_(p, binit)
                if gates == 4 and config.get("unit_forget_bias", True):
                    p[u:2 * u] = 1.0
            elif name.startswith("bias_hh"):
                p.zero_()
