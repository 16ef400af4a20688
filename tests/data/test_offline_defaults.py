"""Issue 9, bug 6: a freshly dropped Dataset Reader reads a dataset that is installed, with no download."""
from __future__ import annotations

import socket

import pytest

from deepnodes.core import registry
from deepnodes.datasets import get_dataset
from tests.data.data_helpers import run_node


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty cache: only what is installed can be read."""
    monkeypatch.setenv("DEEPNODES_CACHE", str(tmp_path / "empty-cache"))

    def refuse(*a, **k):
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_fresh_dataset_reader_reads_offline(offline):
    cls = registry.get("deepnodes.data.DatasetReader")
    default = cls.Config().dataset
    assert default in ("digits", "fashion-mnist")
    (t,), _, _ = run_node("deepnodes.data.DatasetReader", {"limit": 12})
    assert t.num_rows == 12
    assert t.schema.field("image") is not None and set(t.column("label").to_pylist()) <= set(range(10))
    assert get_dataset(default).table_spec() is not None


def test_mnist_is_not_offline(offline):
    """The old default needs a download: the offline fixture really stops it (so the test above means something)."""
    with pytest.raises(Exception):
        run_node("deepnodes.data.DatasetReader", {"dataset": "mnist", "limit": 12})
