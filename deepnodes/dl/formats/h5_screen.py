"""Screening HDF5 data (a legacy Keras `.h5`, the weights inside a `.keras`) in a child process with a time limit.

The HDF5 C library can loop forever on a damaged file (a flipped byte in an attribute header hung
`h5py.AttributeManager.__getitem__` for good in our fuzz tests), and code stuck in C cannot be interrupted from
Python. So before Keras reads the file in this process, a child process (h5py only: no torch, no Keras; about
0.2 s) walks every group, reads every attribute and dataset, and checks that the datasets add up to no more than
a sane multiple of the file's size. A child that fails, crashes or runs past `TIMEOUT` seconds means the file
is refused with one sentence; only a file that passed is handed to Keras.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TIMEOUT = 60.0
#: the datasets of a file may hold at most this multiple of its size (HDF5 compression of weights: ~1×)
MAX_RATIO = 50

_CHILD = r"""
import io, json, signal, sys, zipfile
signal.alarm(int(float(sys.argv[4])) + 2)  # the child ends itself even if its parent died (default SIGALRM: exit)
import h5py
path, inner, ratio = sys.argv[1], sys.argv[2], float(sys.argv[3])
def screen(f, size):
    total = 0
    objs = []
    f.visititems(lambda name, obj: objs.append(obj))
    for obj in [f] + objs:
        for k in list(obj.attrs.keys()):
            obj.attrs[k]
        if isinstance(obj, h5py.Dataset):
            total += obj.size * obj.dtype.itemsize
            if total > ratio * size + (16 << 20):
                raise ValueError(f"its datasets would hold {total} bytes, far more than the file's {size}")
            obj[()]
try:
    if inner:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(".h5")]
            for n in names:
                data = z.read(n)
                with h5py.File(io.BytesIO(data), "r") as f:
                    screen(f, len(data))
    else:
        import os
        with h5py.File(path, "r") as f:
            screen(f, os.path.getsize(path))
except Exception as e:
    print(json.dumps({"error": (type(e).__name__ + ": " + str(e)).splitlines()[0][:200]}))
    sys.exit(3)
print(json.dumps({"ok": True}))
"""


def screen_h5(path: str | Path, what: str, inside_zip: bool = False, timeout: float | None = None) -> None:
    """Refuse (ValueError, one sentence) an HDF5 file, or the HDF5 entries of a zip, that h5py cannot read
    completely and quickly in a child process (see the module docstring)."""
    path = Path(path)
    limit = TIMEOUT if timeout is None else timeout
    try:
        r = subprocess.run([sys.executable, "-c", _CHILD, str(path), "1" if inside_zip else "", str(MAX_RATIO),
                            str(limit)], capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise ValueError(f"the {what} {path.name} is damaged: reading its HDF5 data did not finish within "
                         f"{limit:g} s") from None
    if r.returncode == 0:
        return
    try:
        msg = json.loads(r.stdout.strip().splitlines()[-1])["error"]
    except (ValueError, IndexError, KeyError, TypeError):
        msg = f"the reader stopped with exit status {r.returncode}"
    raise ValueError(f"the {what} {path.name} is damaged or not a Keras model ({msg})")
