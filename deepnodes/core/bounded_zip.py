"""Reading zip files (native networks, `.keras`, skops, TorchScript archives) without trusting their sizes.

`check_zip(path, what)` screens the central directory before anything is read into memory: an entry that
would expand far beyond its compressed size, or entries that add up to far more than the file itself (a zip
bomb), are refused with one sentence naming the file and the entry. `read_entry` reads one entry with a hard
cap, so a header that lies about a size cannot make it read more. Stdlib only.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

#: an entry may expand to at most this multiple of its compressed size (deflate of real weights: ~1.1×;
#: of JSON text: ~5-10×), plus `SLACK` bytes for small, very compressible entries
MAX_RATIO = 100
#: all entries together may expand to at most this multiple of the file's size, plus `SLACK`
MAX_TOTAL_RATIO = 20
SLACK = 16 << 20


def one_line(v: object, n: int = 120) -> str:
    """`v` as text fit for a one-sentence message: control characters escaped, cut to `n` characters."""
    t = str(v)
    t = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in t)
    return t if len(t) <= n else t[:n - 3] + "..."


class ZipRefused(ValueError):
    """A zip file that is damaged or whose sizes are not sane (the message says why, in one sentence)."""


def check_zip(path: str | Path, what: str = "file", declared: dict[str, int] | None = None) -> list[zipfile.ZipInfo]:
    """The entries of the zip at `path` after screening their sizes (see the module docstring).

    `declared` maps entry names to the sizes the file's own header promises: an entry larger than declared is
    refused."""
    path = Path(path)
    if path.is_dir():
        raise ZipRefused(f"the {what} {path} is a folder, not a file")
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except zipfile.BadZipFile:
        raise ZipRefused(f"the {what} {path} is not a zip archive, or it is truncated") from None
    except Exception as e:  # noqa: BLE001 - OSError, EOFError, NotImplementedError... of a damaged directory
        raise ZipRefused(f"the {what} {path} is truncated or corrupted ({one_line(e)})") from None
    total = 0
    for info in infos:
        if info.file_size > MAX_RATIO * max(info.compress_size, 1) + SLACK:
            raise ZipRefused(f"the {what} {path} is refused: its entry '{one_line(info.filename, 100)}' would expand from "
                             f"{info.compress_size} to {info.file_size} bytes (a zip bomb?)")
        if declared is not None and info.filename in declared and info.file_size > declared[info.filename]:
            raise ZipRefused(f"the {what} {path} is refused: its entry '{one_line(info.filename, 100)}' holds "
                             f"{info.file_size} bytes, more than the {declared[info.filename]} its header declares")
        total += info.file_size
    if total > MAX_TOTAL_RATIO * size + SLACK:
        raise ZipRefused(f"the {what} {path} is refused: its entries would expand to {total} bytes from a file of "
                         f"{size} bytes (a zip bomb?)")
    return infos


def read_entry(z: zipfile.ZipFile, name: str, limit: int, what: str, path: Path) -> bytes:
    """Entry `name` of `z`, never more than `limit` bytes (a longer one is refused)."""
    try:
        with z.open(name) as fh:
            data = fh.read(limit + 1)
    except KeyError:
        raise ZipRefused(f"the {what} {path} has no entry '{name}'") from None
    except Exception as e:  # noqa: BLE001 - zlib.error and friends of a damaged member
        raise ZipRefused(f"the {what} {path} is truncated or corrupted (entry '{name}': {one_line(e)})") from None
    if len(data) > limit:
        raise ZipRefused(f"the {what} {path} is refused: its entry '{name}' is larger than the {limit} bytes allowed")
    return data
