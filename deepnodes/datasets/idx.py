"""The IDX format of MNIST-style files, parsed without a Python loop over items.

Header: two zero bytes, a type code, the number of dimensions, then one big-endian int32 per dimension.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """An IDX byte string as a numpy array of its shape (a view on `data` for uint8 files)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in DTYPES:
        raise ValueError(f"'{name}' is not an IDX file (bad magic number)")
    dtype, ndim = DTYPES[data[2]], data[3]
    head = 4 + 4 * ndim
    if len(data) < head:
        raise ValueError(f"'{name}' is a truncated IDX file (header cut short)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    n = int(np.prod(shape, dtype=np.int64))
    if len(data) - head != n * dtype.itemsize:
        raise ValueError(f"'{name}' is a damaged IDX file: its header promises {n * dtype.itemsize} bytes of "
                         f"data, it holds {len(data) - head}")
    return np.frombuffer(data, dtype=dtype, count=n, offset=head).reshape(shape)


def read_idx(path: str | Path, limit: int | None = None) -> np.ndarray:
    """An IDX file (gzip-compressed or not) as a numpy array; with `limit`, only the first items are read."""
    p = Path(path)
    with open(p, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    try:
        with opener(p, "rb") as f:
            if limit is None:
                return parse_idx(f.read(), p.name)
            head = f.read(4)
            if len(head) < 4 or head[0] or head[1] or head[2] not in DTYPES:
                raise ValueError(f"'{p.name}' is not an IDX file (bad magic number)")
            dims = f.read(4 * head[3])
            shape = np.frombuffer(dims, dtype=">u4")
            n = min(int(limit), int(shape[0]))
            item = int(np.prod(shape[1:], dtype=np.int64)) * DTYPES[head[2]].itemsize
            body = f.read(n * item)
            cut = np.asarray([n, *shape[1:]], dtype=">u4").tobytes()
            return parse_idx(head + cut + body, p.name)
    except (OSError, EOFError) as e:
        raise ValueError(f"'{p.name}' is a damaged file: {e}") from None


def write_idx(array: np.ndarray, path: str | Path, compress: bool | None = None) -> Path:
    """Write `array` as an IDX file (gzip-compressed when the name ends in .gz); used by tests and tools."""
    p = Path(path)
    a = np.asarray(array)
    if a.dtype == np.uint8:
        tc = 0x08
    elif a.dtype == np.int8:
        tc = 0x09
    else:
        raise ValueError("write_idx writes uint8 or int8 arrays")
    head = bytes([0, 0, tc, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    data = head + np.ascontiguousarray(a).tobytes()
    if compress if compress is not None else p.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    p.write_bytes(data)
    return p
