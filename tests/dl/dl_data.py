"""Small real-data slices for the deep-learning tests (Fashion-MNIST from the Debian package, real MNIST)."""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

FASHION = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@lru_cache(maxsize=4)
def idx_pair(folder: str, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    folder = Path(folder)
    if not (folder / f"{prefix}-images-idx3-ubyte.gz").exists():
        pytest.skip(f"{folder} has no {prefix} files")
    return _idx(folder / f"{prefix}-images-idx3-ubyte.gz"), _idx(folder / f"{prefix}-labels-idx1-ubyte.gz")


def image_table(images: np.ndarray, labels: np.ndarray, categories: bool = False):
    """A table with an 'image' tensor column (N, 1, 28, 28) float32 in [0, 1] and a 'label' column."""
    import pyarrow as pa

    from deepnodes.table.arrow import category_array, set_column, tensor_array

    x = (images.astype(np.float32) / 255.0).reshape(len(images), 1, 28, 28)
    t = pa.table({"image": tensor_array(x)})
    if categories:
        return set_column(t, "label", category_array([CLASSES[i] for i in labels]), kind="category", categories=CLASSES)
    return t.append_column("label", pa.array(labels.astype(np.int64)))


def fashion(n: int, start: int = 0, split: str = "t10k", categories: bool = False):
    imgs, labels = idx_pair(str(FASHION), split)
    return image_table(imgs[start:start + n], labels[start:start + n], categories)
