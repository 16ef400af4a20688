"""The uint8 image tensor column reaches numpy and torch without a copy (real MNIST test set)."""
import numpy as np
import torch

from deepnodes.datasets import load_dataset
from deepnodes.table.arrow import to_numpy, to_torch


def test_uint8_views_share_the_arrow_buffer_and_float_cast_is_exact(mnist_dir):
    t = load_dataset("mnist", "test", str(mnist_dir))
    col = t.column("image")
    buf = col.chunks[0].storage.flatten().buffers()[1]
    arr = to_numpy(col)
    assert arr.shape == (10_000, 1, 28, 28) and arr.ctypes.data == buf.address
    assert np.shares_memory(arr, np.frombuffer(buf, dtype=np.uint8))
    view = to_torch(col)
    assert view.dtype == torch.uint8 and view.data_ptr() == buf.address
    part = to_numpy(col.slice(500, 3))
    assert np.shares_memory(part, arr) and np.array_equal(part, arr[500:503])
    x = to_torch(col, torch.float32)
    assert x.dtype == torch.float32 and torch.equal(x, view.to(torch.float32))
