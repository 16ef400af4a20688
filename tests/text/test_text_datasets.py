import hashlib
import http.server
import io
import threading
import zipfile

import pytest

from deepnodes.datasets import text as T
from deepnodes.datasets.resolver import ChecksumError, DatasetNotFound


def test_kjv_columns_and_chapter_split_are_seeded_and_disjoint():
    train, test = T.kjv_table("train", seed=3), T.kjv_table("test", seed=3)
    assert train.column_names == ["book", "chapter", "verse", "text"]
    assert train.num_rows + test.num_rows == 31102  # every KJV verse, once
    chap = lambda t: set(zip(t.column("book").to_pylist(), t.column("chapter").to_pylist()))  # noqa: E731
    assert not chap(train) & chap(test)
    assert len(chap(test)) == round(1189 * 0.05)  # 5% of the 1,189 chapters
    # not the tail of the file: held-out chapters come from all over the Bible
    books = set(test.column("book").to_pylist())
    assert "Genesis" in books or "Exodus" in books or len(books) > 20
    assert chap(T.kjv_table("test", seed=3)) == chap(test) != chap(T.kjv_table("test", seed=4))
    first = train.slice(0, 1).to_pylist()[0]
    assert first["book"] == "Genesis" and first["text"].startswith("In the beginning God created")


def test_ding_filter_gives_about_18k_full_sentence_pairs():
    pairs = T.ding_pairs()
    assert 17000 <= len(pairs) <= 19500
    en = [e for e, _ in pairs]
    assert len(set(x.lower() for x in en)) == len(en)  # deduplicated
    for e, d in pairs[::97]:
        for s in (e, d):
            assert s[-1] in ".!?" and len(s.split()) >= 3
            assert not any(ch in s for ch in "[]{}<>/()")
    assert ("I can't take this noise any more!", "Ich halte diesen Lärm nicht mehr aus!") in pairs


def test_pair_splits_partition_the_pairs():
    parts = {s: T.en_de_table("ding", s, seed=0) for s in ("train", "validation", "test")}
    n = sum(t.num_rows for t in parts.values())
    assert n == len(T.ding_pairs())
    assert abs(parts["test"].num_rows - 0.05 * n) <= 1
    assert not set(parts["train"].column("english").to_pylist()) & set(parts["test"].column("english").to_pylist())
    assert parts["test"].column("english").to_pylist() == T.en_de_table("ding", "test", seed=0).column("english").to_pylist()


def test_bad_source_and_missing_ding_file(tmp_path):
    with pytest.raises(T.DatasetError, match="option 'source'"):
        T.en_de_table("nope")
    with pytest.raises(T.DatasetError, match="trans-de-en"):
        T.ding_pairs(tmp_path / "missing")


# ------------------------------------------------------------------ Tatoeba download, local HTTP server
def _zip(lines: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("deu.txt", lines)
        z.writestr("_about.txt", "about")
    return buf.getvalue()


GOOD = _zip("Go.\tGeh.\tCC-BY 2.0 (France)\nHi.\tHallo!\tCC-BY\nHi.\tGrüß Gott!\tCC-BY\nRun!\tLauf!\tCC-BY\n"
            "I see.\tIch verstehe.\tCC-BY\n")


@pytest.fixture
def server():
    files: dict[str, bytes] = {}

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            name = self.path.rsplit("/", 1)[-1]
            if name not in files:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(files[name])))
            self.end_headers()
            self.wfile.write(files[name])

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/anki", files
    srv.shutdown()


def test_tatoeba_download_checksum_and_cache(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPNODES_CACHE", str(tmp_path))
    base, files = server
    files["deu-eng.zip"] = GOOD
    md5 = hashlib.md5(GOOD).hexdigest()
    pairs = T.tatoeba_pairs(base_url=base, md5=md5)
    assert pairs == [("Go.", "Geh."), ("Hi.", "Hallo!"), ("Run!", "Lauf!"), ("I see.", "Ich verstehe.")]
    assert (tmp_path / "tatoeba" / "deu-eng.zip").read_bytes() == GOOD
    files.clear()  # now served from the cache
    assert T.tatoeba_pairs(base_url=base, md5=md5) == pairs
    table = T.load_en_de(split="all", base_url=base, source="tatoeba")
    assert table.column_names == ["row_id", "english", "german"] and table.num_rows == 4


def test_tatoeba_corrupted_download_is_refused_and_not_cached(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPNODES_CACHE", str(tmp_path))
    base, files = server
    files["deu-eng.zip"] = GOOD[:-10] + b"xxxxxxxxxx"
    with pytest.raises(ChecksumError, match="corrupted"):
        T.tatoeba_pairs(base_url=base, md5=hashlib.md5(GOOD).hexdigest())
    assert not list((tmp_path / "tatoeba").glob("deu-eng.zip*"))


def test_tatoeba_failing_download_and_unpinned_checksum(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPNODES_CACHE", str(tmp_path))
    base, files = server
    with pytest.raises(DatasetNotFound, match="local_folder"):
        T.tatoeba_pairs(base_url=base, md5=None)  # 404
    files["deu-eng.zip"] = GOOD
    assert len(T.tatoeba_pairs(base_url=base, md5=None)) == 4  # first download records its md5
    cached = tmp_path / "tatoeba" / "deu-eng.zip"
    cached.write_bytes(GOOD[:-3] + b"abc")  # the cached copy is damaged later
    files.clear()
    with pytest.raises(ChecksumError, match="changed since it was downloaded"):
        T.tatoeba_pairs(base_url=base, md5=None)
    assert not cached.exists()


def test_tatoeba_not_a_zip(tmp_path):
    with pytest.raises(T.DatasetError, match="zip"):
        T.parse_tatoeba(b"PK\x03\x04garbage")
    with pytest.raises(T.DatasetError, match="no English"):
        T.parse_tatoeba(b"just one column\n")


def test_dataset_reader_lists_the_text_datasets():
    from deepnodes.datasets import dataset_names, get_dataset, load_dataset
    from deepnodes.table.arrow import spec_of

    assert {"kjv-bible", "en-de-pairs", "en-de-pairs-tatoeba"} <= set(dataset_names())
    for name, split in (("kjv-bible", "test"), ("en-de-pairs", "validation")):
        t = load_dataset(name, split, limit=5)
        assert t.num_rows == 5 and spec_of(t) == get_dataset(name).table_spec()
