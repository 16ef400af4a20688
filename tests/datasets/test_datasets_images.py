"""Built-in image datasets on the real files: MNIST test set, Debian's Fashion-MNIST, digits, LFW subset."""
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from deepnodes.datasets import DatasetNotFound, dataset_names, get_dataset, load_dataset
from deepnodes.datasets.idx import parse_idx, read_idx, write_idx
from deepnodes.table.arrow import spec_of, to_numpy

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_registry_lists_the_image_datasets():
    assert {"mnist", "fashion-mnist", "digits", "lfw-faces"} <= set(dataset_names())
    with pytest.raises(ValueError, match=r"^dataset 'cifar' \(option 'dataset'\) is not known; the datasets are "):
        load_dataset("cifar")
    with pytest.raises(ValueError, match=r"^dataset 'mnist' has no split 'valid' \(option 'split'\); its splits are "
                                         r"train, test or all$"):
        load_dataset("mnist", "valid")


def test_mnist_test_set_from_a_local_folder(mnist_dir):
    t = load_dataset("mnist", "test", local_folder=str(mnist_dir))
    assert t.num_rows == 10_000
    assert spec_of(t) == get_dataset("mnist").table_spec()
    x = to_numpy(t.column("image"))
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    labels = t.column("label").to_numpy()
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    assert t.column("class_name").to_pylist()[:3] == ["7", "2", "1"]
    assert set(t.column("split").to_pylist()) == {"test"}
    assert t.column("row_id").to_pylist()[-1] == 9_999
    # a limit reads only the first rows, with the same content
    head = load_dataset("mnist", "test", local_folder=str(mnist_dir), limit=50)
    np.testing.assert_array_equal(to_numpy(head.column("image")), x[:50])


def test_local_folder_without_the_files_names_the_file(tmp_path, mnist_dir):
    with pytest.raises(DatasetNotFound) as e:
        load_dataset("mnist", "train", local_folder=str(mnist_dir))
    assert str(e.value) == (f"the local folder '{mnist_dir}' (option 'local_folder') has no file "
                            "'train-images-idx3-ubyte.gz' for mnist")
    # uncompressed files in the folder work too
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes()))
    t = load_dataset("mnist", "test", local_folder=str(tmp_path), limit=10)
    assert t.column("label").to_pylist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_idx_parsing_is_a_view_and_checks_sizes(tmp_path, mnist_dir):
    raw = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    y = parse_idx(raw, "labels")
    assert y.shape == (10_000,) and np.shares_memory(y, np.frombuffer(raw, np.uint8))
    with pytest.raises(ValueError, match=r"^'labels' is a damaged IDX file: its header promises 10000 bytes of data, "
                                         r"it holds 9999$"):
        parse_idx(raw[:-1], "labels")
    with pytest.raises(ValueError, match="is not an IDX file"):
        parse_idx(b"\x1f\x8b\x08\x00" + raw[4:], "labels")
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(write_idx(a, tmp_path / "a-idx3-ubyte.gz")), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz", limit=1), a[:1])


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists(),
                    reason="the Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPNODES_CACHE", str(tmp_path / "cache"))  # nothing may be downloaded or cached
    t = load_dataset("fashion-mnist", "all")
    assert t.num_rows == 70_000
    assert spec_of(t) == get_dataset("fashion-mnist").table_spec()
    train = t.filter(t.column("split").cast("string").to_numpy(zero_copy_only=False) == "train")
    assert train.num_rows == 60_000
    assert np.bincount(train.column("label").to_numpy()).tolist() == [6000] * 10
    assert t.column("class_name")[0].as_py() == "Ankle boot" and t.column("label")[0].as_py() == 9
    assert not (tmp_path / "cache").exists()
    from deepnodes.datasets.resolver import package_dirs

    assert "/usr/share/datasets/fashion-mnist" in package_dirs("dataset-fashion-mnist")  # found via dpkg -L


def test_digits_and_lfw_faces():
    d = load_dataset("digits")
    assert d.num_rows == 1797 and spec_of(d) == get_dataset("digits").table_spec()
    x = to_numpy(d.column("image"))
    assert x.shape == (1797, 1, 8, 8) and x.max() == 255 and x.min() == 0
    from sklearn.datasets import load_digits

    np.testing.assert_array_equal(np.rint(x[:, 0] * (16 / 255)), load_digits().images)  # 0..16 scaled to 0..255
    f = load_dataset("lfw-faces")
    assert f.num_rows == 200 and spec_of(f) == get_dataset("lfw-faces").table_spec()
    assert to_numpy(f.column("image")).shape == (200, 1, 25, 25)
    assert f.column("class_name").to_pylist()[:1] + f.column("class_name").to_pylist()[-1:] == ["face", "non-face"]
    assert np.bincount(f.column("label").to_numpy()).tolist() == [100, 100]
    with pytest.raises(ValueError, match=r"^dataset 'digits' has no splits; set option 'split' to 'all'$"):
        load_dataset("digits", "train")
