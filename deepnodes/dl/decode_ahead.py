"""Batches for the training loop; encoded image columns decoded one batch ahead in a background thread.

An image column of PNG/JPEG bytes (an Image Reader's or Image Folder Reader's table, no Image to Tensor node)
bound to a network input becomes an `EncodedImages`: the bytes, and how each image becomes the input's
(C, H, W): grayscale for one channel, RGB for three, resized (bilinear) to the input's height and width when the
network fixes them. That is what Image to Tensor gives with that size and mode and scale 'none': uint8 values
0-255, cast to the network's dtype per batch like any uint8 tensor column.

Nothing is decoded up front. Memory holds the encoded bytes and at most two decoded batches instead of the whole
(N, C, H, W) column (50,000 RGB images of 224 x 224 are 7.5 GB decoded), at the price of decoding again every
epoch; an Image to Tensor node before the Learner decodes once and keeps the tensor column, where it fits.

`BatchFeed` gives the loop its batches: tensor columns are sliced (or gathered by the shuffled indices) inline,
one op per tensor; for encoded columns, batch k+1 is decoded in one background thread (PIL releases the GIL
while it decodes) while batch k trains: a bounded queue of one batch. The rows, batches and their order are the
inline decode's, so the same seed gives the same weights. `close()` (the loop's `finally`: end, Stop, cancel,
error) drops the batch ahead, stops the decode between two images and ends the thread. An image that does not
decode raises its sentence (column, option, table row) when its batch is due, as an up-front decode would.

    feed = BatchFeed(x + y, dev, pin)
    feed.epoch(perm, n, batch_size)          # perm None: rows in order
    xy = feed.get(b)                         # batch b; batch b + 1 starts decoding in the background
    feed.close()
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Sequence

import numpy as np
import torch

from deepnodes.table.spec import ColumnError

from .spec import TensorSpec, fmt_shape


class _Closed(Exception):
    """The feed was closed while a batch ahead was decoding."""


class EncodedImages:
    """A column of encoded images, decoded to (B, *item_shape) uint8 only for the rows asked for."""

    device = torch.device("cpu")

    def __init__(self, values: list, column: str, option: str, mode: str, size: tuple[int, int] | None,
                 item_shape: tuple[int, ...], tensor: str):
        self.values, self.column, self.option = values, column, option
        self.mode, self.size, self.item_shape, self.tensor = mode, size, item_shape, tensor

    def __len__(self) -> int:
        return len(self.values)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.values), *self.item_shape)

    def _one(self, r: int) -> np.ndarray:
        from deepnodes.table.images import _decode_one

        a = _decode_one(self.values[r], r, self.size, self.mode, self.column, self.option)
        a = a[0] if len(self.item_shape) == 2 else a
        if a.shape != self.item_shape:
            raise ColumnError(f"column '{self.column}' (option '{self.option}') holds an image of "
                              f"{'×'.join(map(str, a.shape))} in row {r} but the network input '{self.tensor}' takes "
                              f"{'×'.join(map(str, self.item_shape))} (as in row 0); make them alike with an Image "
                              f"to Tensor node (options 'size' and 'mode') or give the input a fixed height and width")
        return a

    def rows(self, rows: Sequence[int], stop: threading.Event | None = None) -> torch.Tensor:
        """The images of table rows `rows`, decoded in order; `stop` set: give up between two images."""
        out = np.empty((len(rows), *self.item_shape), dtype=np.uint8)
        for j, r in enumerate(rows):
            if stop is not None and stop.is_set():
                raise _Closed()
            out[j] = self._one(int(r))
        return torch.from_numpy(out)

    def __getitem__(self, sl: slice) -> torch.Tensor:  # batch inference slices its inputs
        return self.rows(range(*sl.indices(len(self))))


def encoded_images(table, name: str, tensor: TensorSpec, option: str) -> EncodedImages:
    """An image column of encoded bytes bound to network input `tensor` ((C, H, W) or (H, W)); row 0 is decoded
    now, so the image size of a network without a fixed height and width is known and a first bad image is a
    sentence before training starts."""
    import pyarrow as pa

    col = table.column(name)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    shape = tuple(tensor.shape)
    if len(shape) == 3:
        mode = {1: "grayscale", 3: "rgb"}.get(shape[0], "keep")
    elif len(shape) == 2:
        mode = "grayscale"
    else:
        raise ColumnError(f"column '{name}' (option '{option}') holds images, but the network input '{tensor.name}' "
                          f"expects {fmt_shape(shape)}; an image input is (channels, height, width) or (height, width)")
    hw = shape[-2:]
    size = (int(hw[0]), int(hw[1])) if None not in hw else None
    values = col.to_pylist()
    if values:
        from deepnodes.table.images import _decode_one

        first = _decode_one(values[0], 0, size, mode, name, option)
        item = tuple(first.shape[1:] if len(shape) == 2 else first.shape)
    else:
        item = tuple(d or 0 for d in shape)
    if any(w is not None and w != h for h, w in zip(item, shape)):
        raise ColumnError(f"column '{name}' (option '{option}') holds images of {'×'.join(map(str, item))} (row 0) "
                          f"but the network input '{tensor.name}' expects {fmt_shape(shape)}; give them that many "
                          f"channels with an Image to Tensor node (option 'mode')")
    return EncodedImages(values, name, option, mode, size, item, tensor.name)


def _rows(idx, sl: slice) -> list[int] | range:
    return range(sl.start, sl.stop) if idx is None else idx.tolist()


def gather(ts, idx, sl: slice, dev, pin: bool = False, decoded: list | None = None) -> list:
    """One batch per converted column: a slice (or one gather by `idx`), or the decoded images of an encoded
    column (`decoded[k]` when decoded ahead), copied to `dev` (from pinned memory without blocking on CUDA when
    `pin`) and cast to the column's training dtype. No per-row Python for tensor columns."""
    out = []
    for k, t in enumerate(ts):
        if t is None:
            out.append(None)
            continue
        if decoded is not None and decoded[k] is not None:
            d = decoded[k]
        elif isinstance(t.data, EncodedImages):
            d = t.data.rows(_rows(idx, sl))
        elif idx is None:
            d = t.data[sl]
        else:
            d = t.data.index_select(0, idx if t.data.device == idx.device else idx.to(t.data.device))
        if d.device != dev:
            d = d.pin_memory().to(dev, non_blocking=True) if pin else d.to(dev)
        out.append(d if d.dtype == t.dtype else d.to(t.dtype))
    return out


def place(ts: list, dev) -> list:
    """Converted columns moved to `dev` once, where they fit (else they stay on the host and batches are copied);
    encoded images stay on the host, where they are decoded."""
    from dataclasses import replace

    if dev.type == "cpu":
        return ts
    out = []
    for t in ts:
        if t is None or isinstance(t.data, EncodedImages):
            out.append(t)
            continue
        try:
            out.append(replace(t, data=t.data.to(dev)))
        except torch.OutOfMemoryError:  # too large for the device: gather on the host, copy per batch
            out.append(t)
    return out


class BatchFeed:
    """The batches of one run over converted columns `ts`, encoded image columns decoded one batch ahead."""

    def __init__(self, ts: Sequence, dev, pin: bool = False):
        self.ts, self.dev, self.pin = list(ts), dev, pin
        self.encoded = [k for k, t in enumerate(self.ts) if t is not None and isinstance(t.data, EncodedImages)]
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._ahead: tuple[int, Future] | None = None
        self._perm, self._n, self._bs = None, 0, 1

    def epoch(self, perm, n: int, batch_size: int) -> None:
        """The next pass: rows in the order of `perm` (None: in order), `batch_size` at a time."""
        self._drop()
        self._perm, self._n, self._bs = perm, n, batch_size

    def _span(self, b: int):
        lo, hi = b * self._bs, min(self._n, (b + 1) * self._bs)
        return (self._perm[lo:hi] if self._perm is not None else None), slice(lo, hi)

    def _decode(self, rows) -> list:
        return [self.ts[k].data.rows(rows, self._stop) if k in self.encoded else None for k in range(len(self.ts))]

    def _submit(self, b: int) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="decode-ahead")
        rows = _rows(*self._span(b))  # the indices read here, in the loop's thread (a CUDA perm syncs once)
        self._ahead = (b, self._pool.submit(self._decode, rows))

    def get(self, b: int) -> list:
        """Batch `b` of the epoch (one tensor per column); starts decoding batch b + 1."""
        idx, sl = self._span(b)
        if not self.encoded:
            return gather(self.ts, idx, sl, self.dev, self.pin)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] != b:
            ahead[1].cancel()
            ahead = None
        nxt = b + 1 if (b + 1) * self._bs < self._n else None
        if ahead is None:  # the epoch's first batch: decode it here while the thread starts on the next
            if nxt is not None:
                self._submit(nxt)
            decoded = self._decode(_rows(idx, sl))
        else:
            decoded = ahead[1].result()
            if nxt is not None:
                self._submit(nxt)
        return gather(self.ts, idx, sl, self.dev, self.pin, decoded)

    def _drop(self) -> None:
        if self._ahead is not None:
            self._ahead[1].cancel()
            self._ahead = None

    def close(self) -> None:
        """Drop the batch ahead and end the decode thread (waits at most for the image being decoded)."""
        self._stop.set()
        self._drop()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
