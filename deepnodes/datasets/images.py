"""Built-in image datasets: `mnist`, `fashion-mnist`, `digits` (scikit-learn) and `lfw-faces` (scikit-image).

Each comes out as a table: `row_id`, `image` ((1, H, W) uint8 tensor), `label` (int64), `class_name`
(category) and, for datasets with train/test files, `split` (category).
"""
from __future__ import annotations

import os
from typing import Sequence

from ..table.spec import ColumnSpec, TableSpec
from .registry import register_dataset
from .resolver import resolve_file

MNIST_FILES = {  # the official file names and md5s
    "train": (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
              ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")),
    "test": (("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
             ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
}
FASHION_FILES = {
    "train": (("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
              ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe")),
    "test": (("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
             ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")),
}
# download mirrors (overridden by the loader's `base_url` or the environment variable)
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist",
                 "https://storage.googleapis.com/cvdf-datasets/mnist")
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",)
FASHION_PACKAGE = "dataset-fashion-mnist"  # Debian
FASHION_SYSTEM_DIRS = ("/usr/share/datasets/fashion-mnist",)  # where that package puts the files

MNIST_CLASSES = tuple(str(i) for i in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
SPLITS = ("train", "test")


def image_spec(h: int, w: int, classes: Sequence[str], splits: Sequence[str] = ()) -> TableSpec:
    cols = [ColumnSpec("row_id", "integer", "int64"), ColumnSpec("image", "tensor", "uint8", (1, h, w)),
            ColumnSpec("label", "integer", "int64"), ColumnSpec("class_name", "category", "string", None, tuple(classes))]
    if splits:
        cols.append(ColumnSpec("split", "category", "string", None, tuple(splits)))
    return TableSpec(tuple(cols))


def image_table(images, labels, classes: Sequence[str], split_codes=None, splits: Sequence[str] = ()):
    """The standard image-dataset table from (N, H, W) uint8 images and integer labels (no per-row Python)."""
    import numpy as np
    import pyarrow as pa

    from ..table.arrow import category_field, category_from_codes, tensor_array

    images = np.asarray(images, dtype=np.uint8)
    labels = np.asarray(labels).astype(np.int64)
    n = len(labels)
    cols = [pa.array(np.arange(n, dtype=np.int64)), tensor_array(images.reshape(n, 1, *images.shape[-2:])),
            pa.array(labels), category_from_codes(labels, classes)]
    fields = [pa.field("row_id", pa.int64()), pa.field("image", cols[1].type), pa.field("label", pa.int64()),
              category_field("class_name", classes)]
    if splits:
        cols.append(category_from_codes(split_codes, splits))
        fields.append(category_field("split", splits))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def _mirrors(base_url: str, env: str, defaults: Sequence[str]) -> list[str]:
    raw = base_url or os.environ.get(env, "")
    return [u.strip() for u in raw.split(",") if u.strip()] if raw else list(defaults)


def load_idx_dataset(name: str, files: dict, classes: Sequence[str], mirrors: Sequence[str], cache_subdir: str,
                     split: str = "all", local_folder=None, limit: int | None = None, system_dirs: Sequence[str] = (),
                     progress=None):
    import numpy as np

    from .idx import read_idx

    parts = list(SPLITS) if split == "all" else [split]
    images, labels, codes = [], [], []
    left = limit
    for s in parts:
        if left is not None and left <= 0:
            break
        (img_name, img_md5), (lab_name, lab_md5) = files[s]
        kw = dict(cache_subdir=cache_subdir, local_folder=local_folder, system_dirs=system_dirs, base_urls=mirrors,
                  dataset=name, progress=progress)
        x = read_idx(resolve_file(img_name, img_md5, **kw), left)
        y = read_idx(resolve_file(lab_name, lab_md5, **kw), left)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{name} files '{img_name}' and '{lab_name}' do not match: images {x.shape}, "
                             f"labels {y.shape}")
        if len(y) and int(y.max()) >= len(classes):
            raise ValueError(f"{name} file '{lab_name}' holds the label {int(y.max())}; only {len(classes)} classes exist")
        images.append(x)
        labels.append(y)
        codes.append(np.full(len(y), SPLITS.index(s), dtype=np.int32))
        if left is not None:
            left -= len(y)
    x = np.concatenate(images) if len(images) > 1 else images[0]
    return image_table(x, np.concatenate(labels), classes, np.concatenate(codes), SPLITS)


def load_mnist(split: str = "all", local_folder=None, limit: int | None = None, base_url: str = "", progress=None):
    """MNIST handwritten digits (60,000 train + 10,000 test, 28×28)."""
    return load_idx_dataset("mnist", MNIST_FILES, MNIST_CLASSES, _mirrors(base_url, "DEEPNODES_MNIST_URL", MNIST_MIRRORS),
                            "mnist", split, local_folder, limit, progress=progress)


def load_fashion_mnist(split: str = "all", local_folder=None, limit: int | None = None, base_url: str = "",
                       progress=None):
    """Fashion-MNIST (Zalando article images, 60,000 train + 10,000 test, 28×28)."""
    from .resolver import package_dirs

    dirs = () if base_url else (*FASHION_SYSTEM_DIRS, *package_dirs(FASHION_PACKAGE))
    return load_idx_dataset("fashion-mnist", FASHION_FILES, FASHION_CLASSES,
                            _mirrors(base_url, "DEEPNODES_FASHION_MNIST_URL", FASHION_MIRRORS), "fashion-mnist",
                            split, local_folder, limit, system_dirs=dirs, progress=progress)


def load_digits(split: str = "all", local_folder=None, limit: int | None = None, base_url: str = "", progress=None):
    """scikit-learn's 1,797 handwritten digits, 8×8; the 0–16 values scaled to 0–255."""
    import numpy as np
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = np.rint(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    y = d.target
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return image_table(x, y, MNIST_CLASSES)


LFW_CLASSES = ("non-face", "face")


def load_lfw_faces(split: str = "all", local_folder=None, limit: int | None = None, base_url: str = "", progress=None):
    """scikit-image's LFW subset: 100 faces (label 1) and 100 non-faces (label 0), 25×25 grayscale."""
    import numpy as np
    from skimage.data import lfw_subset

    x = np.rint(lfw_subset() * 255.0).clip(0, 255).astype(np.uint8)
    y = np.r_[np.ones(100, dtype=np.int64), np.zeros(len(x) - 100, dtype=np.int64)]
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return image_table(x, y, LFW_CLASSES)


register_dataset("mnist", load_mnist, description="MNIST handwritten digits, 28×28 grayscale, 10 classes",
                 splits=SPLITS, spec=image_spec(28, 28, MNIST_CLASSES, SPLITS))
register_dataset("fashion-mnist", load_fashion_mnist,
                 description="Fashion-MNIST clothing images, 28×28 grayscale, 10 classes",
                 splits=SPLITS, spec=image_spec(28, 28, FASHION_CLASSES, SPLITS))
register_dataset("digits", load_digits, description="scikit-learn digits, 8×8 grayscale, 10 classes",
                 spec=image_spec(8, 8, MNIST_CLASSES))
register_dataset("lfw-faces", load_lfw_faces, description="scikit-image LFW subset: faces vs non-faces, 25×25",
                 spec=image_spec(25, 25, LFW_CLASSES))
