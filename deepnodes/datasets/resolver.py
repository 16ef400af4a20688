"""Where a dataset's files come from: the resolver chain.

1. an explicit local folder (the user's own copy; works offline),
2. an installed system package (e.g. Debian's `dataset-fashion-mnist`),
3. the user cache (`$DEEPNODES_CACHE`, else `~/.cache/deepnodes`),
4. a download (each mirror in turn), checked against its md5 before it enters the cache.

A download goes to a temporary file in the cache folder, is verified, and only then renamed into
place, so a corrupted or interrupted download never leaves a file behind.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Sequence

CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A downloaded or cached file does not have the md5 it should have."""


class DatasetNotFound(FileNotFoundError):
    """No step of the resolver chain could provide a file."""


def cache_dir() -> Path:
    """The user cache folder: `$DEEPNODES_CACHE`, else `~/.cache/deepnodes`."""
    env = os.environ.get("DEEPNODES_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "deepnodes"


@functools.lru_cache(maxsize=None)
def package_dirs(package: str) -> tuple[str, ...]:
    """Folders holding files of an installed Debian package (`dpkg -L`); empty when not installed or no dpkg."""
    import shutil
    import subprocess

    if shutil.which("dpkg") is None:
        return ()
    try:
        out = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ()
    if out.returncode != 0:
        return ()
    dirs = {str(Path(line).parent) for line in out.stdout.splitlines() if line.endswith(".gz") and "/doc/" not in line}
    return tuple(sorted(dirs))


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, md5: str | None, cache_subdir: str, filename: str | None = None, timeout: float = 60.0,
          progress: Callable[[int, int | None], None] | None = None) -> Path:
    """The file at `url`, from the cache when there (and intact), else downloaded and md5-checked.

    Raises `ChecksumError` (leaving nothing in the cache) when the downloaded bytes do not match `md5`.
    """
    name = filename or url.rstrip("/").rsplit("/", 1)[-1]
    folder = cache_dir() / cache_subdir
    target = folder / name
    if target.exists():
        if md5 is None or md5_of(target) == md5:
            return target
        target.unlink()  # a damaged cached copy is replaced
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        h = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            done = 0
            for block in iter(lambda: resp.read(CHUNK), b""):
                out.write(block)
                h.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
        got = h.hexdigest()
        if md5 is not None and got != md5:
            raise ChecksumError(f"the download of '{name}' from {url} is corrupted: its md5 is {got}, expected {md5}")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def resolve_file(filename: str, md5: str | None, *, cache_subdir: str, local_folder: str | Path | None = None,
                 system_dirs: Iterable[str | Path] = (), base_urls: Sequence[str] = (),
                 dataset: str = "dataset", progress=None) -> Path:
    """Find `filename` along the resolver chain (local folder → system package → cache → download).

    Files in a local folder or a system package are trusted as they are (a package manager checked them;
    distributions may recompress them, so their md5 can differ); the caller validates their content.
    """
    if local_folder:
        folder = Path(local_folder).expanduser()
        if not folder.is_dir():
            raise DatasetNotFound(f"the local folder '{folder}' (option 'local_folder') does not exist")
        for cand in (folder / filename, folder / filename.removesuffix(".gz")):
            if cand.is_file():
                return cand
        raise DatasetNotFound(f"the local folder '{folder}' (option 'local_folder') has no file '{filename}' "
                              f"for {dataset}")
    for d in system_dirs:
        cand = Path(d) / filename
        if cand.is_file():
            return cand
    errors: list[str] = []
    for base in base_urls:
        url = base.rstrip("/") + "/" + filename
        try:
            return fetch(url, md5, cache_subdir, filename, progress=progress)
        except ChecksumError as e:
            errors.append(str(e))
            last: Exception = e
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
            last = e
    cached = cache_dir() / cache_subdir / filename
    if not base_urls and cached.exists() and (md5 is None or md5_of(cached) == md5):
        return cached
    if errors and isinstance(last, ChecksumError):
        raise last
    tried = "; ".join(errors) if errors else "no download address is configured"
    raise DatasetNotFound(f"{dataset} file '{filename}' is not available offline and could not be downloaded "
                          f"({tried}); give a folder with the files in option 'local_folder'")
