"""The download step of the resolver chain, against a local HTTP server on 127.0.0.1."""
import functools
import hashlib
import http.server
import shutil
import threading

import numpy as np
import pytest

from deepnodes.datasets import ChecksumError, DatasetNotFound, fetch, load_dataset, resolve_file
from deepnodes.datasets.idx import write_idx
from deepnodes.datasets.images import load_idx_dataset
from deepnodes.table.arrow import to_numpy


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    httpd.requests = []
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", httpd.requests
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    c = tmp_path / "cache"
    monkeypatch.setenv("DEEPNODES_CACHE", str(c))
    return c


def _md5(p):
    return hashlib.md5(p.read_bytes()).hexdigest()


def _tiny_idx_files(root, n=12):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = (np.arange(n) % 10).astype(np.uint8)
    files = {}
    for split in ("train", "test"):
        prefix = "train" if split == "train" else "t10k"
        xi = write_idx(x, root / f"{prefix}-images-idx3-ubyte.gz")
        yi = write_idx(y, root / f"{prefix}-labels-idx1-ubyte.gz")
        files[split] = ((xi.name, _md5(xi)), (yi.name, _md5(yi)))
    return x, y, files


def test_download_checks_md5_caches_and_reuses(server, cache):
    root, url, requests = server
    x, y, files = _tiny_idx_files(root)
    t = load_idx_dataset("tiny", files, [str(i) for i in range(10)], [url], "tiny", split="all")
    assert t.num_rows == 24
    np.testing.assert_array_equal(to_numpy(t.column("image"))[:12, 0], x)
    assert t.column("label").to_pylist()[:12] == y.tolist()
    assert sorted(p.name for p in (cache / "tiny").iterdir()) == sorted(n for f in files.values() for n, _ in f)
    assert len(requests) == 4
    load_idx_dataset("tiny", files, [str(i) for i in range(10)], [url], "tiny", split="test")
    assert len(requests) == 4  # served from the cache


def test_corrupted_download_raises_checksum_error_and_leaves_cache_clean(server, cache):
    root, url, requests = server
    _, _, files = _tiny_idx_files(root)
    name, md5 = files["test"][1]
    data = bytearray((root / name).read_bytes())
    data[-10] ^= 0xFF
    (root / name).write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as e:
        fetch(f"{url}/{name}", md5, "tiny")
    assert str(e.value).startswith(f"the download of '{name}' from {url}/{name} is corrupted: its md5 is ")
    assert str(e.value).endswith(f", expected {md5}")
    assert list((cache / "tiny").iterdir()) == []  # no partial or corrupted file left behind


def test_real_mnist_files_served_over_http_pass_the_official_md5(server, cache, mnist_dir):
    root, url, requests = server
    for f in mnist_dir.glob("t10k-*.gz"):
        shutil.copy(f, root / f.name)
    t = load_dataset("mnist", "test", base_url=url, limit=100)
    assert t.num_rows == 100 and t.column("label").to_pylist()[:5] == [7, 2, 1, 0, 4]
    assert (cache / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
    # a corrupted mirror copy: checksum error, and the cache keeps only the good files
    (cache / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    labels = root / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(labels.read_bytes())
    data[len(data) // 2] ^= 0xFF
    labels.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"^the download of 't10k-labels-idx1-ubyte.gz' from .* is corrupted"):
        load_dataset("mnist", "test", base_url=url)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == ["t10k-images-idx3-ubyte.gz"]


def test_damaged_cached_file_is_downloaded_again(server, cache):
    root, url, requests = server
    _, _, files = _tiny_idx_files(root)
    name, md5 = files["train"][1]
    p = fetch(f"{url}/{name}", md5, "tiny")
    p.write_bytes(b"garbage")
    again = fetch(f"{url}/{name}", md5, "tiny")
    assert _md5(again) == md5 and len(requests) == 2


def test_dead_mirror_falls_back_and_offline_error_is_one_sentence(server, cache):
    root, url, requests = server
    _, _, files = _tiny_idx_files(root)
    name, md5 = files["train"][0]
    dead = "http://127.0.0.1:9"  # discard port: connection refused
    p = resolve_file(name, md5, cache_subdir="tiny", base_urls=[dead, url], dataset="tiny")
    assert _md5(p) == md5
    with pytest.raises(DatasetNotFound) as e:
        resolve_file("other.gz", None, cache_subdir="tiny", base_urls=[dead], dataset="tiny")
    msg = str(e.value)
    assert msg.startswith("tiny file 'other.gz' is not available offline and could not be downloaded (")
    assert msg.endswith("; give a folder with the files in option 'local_folder'")


def test_dataset_reader_node_downloads_with_progress_events(server, cache, mnist_dir):
    from deepnodes.core import Engine, Workflow

    root, url, requests = server
    for f in mnist_dir.glob("t10k-*.gz"):
        shutil.copy(f, root / f.name)
    wf = Workflow("download")
    wf.add("deepnodes.data.DatasetReader", "mnist", {"dataset": "mnist", "split": "test", "limit": 10, "base_url": url})
    eng = Engine(wf)
    events = []
    eng.subscribe(events.append)
    assert eng.run().ok
    assert eng.output("mnist").column("label").to_pylist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    msgs = [e["message"] for e in events if e["type"] == "progress" and e.get("fraction")]
    assert any(m.startswith("downloading mnist: 1.6 MB") for m in msgs), msgs[-3:]
