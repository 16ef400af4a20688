"""Writes that never destroy: write beside, verify, switch atomically, clean up.

    replace_file(path, lambda tmp: write_something(tmp), verify=check)   # a file (ONNX, TorchScript, .dnn, ...)
    replace_dir(path, lambda tmp: write_files_into(tmp), owned=is_ours) # a folder (a native network)

The new content is written to a temporary sibling (same folder, so the same filesystem), flushed and fsynced,
checked by `verify`, and only then switched into place with `os.replace` (a file) or an atomic exchange of the
two folders (Linux `renameat2(RENAME_EXCHANGE)`; elsewhere a rename dance whose interrupted state the next
write repairs). The parent folder is fsynced so the switch itself survives a crash. The old content is
removed only after the new one is in place; whatever happens, `path` holds either the old or the new content.
A folder at `path` that the caller did not write (`owned` says no) is never replaced. Stdlib only.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Callable

NEW_TAG = ".dn-new-"   # temporary siblings being written: `.{name}.dn-new-XXXX`
OLD_TAG = ".dn-old"    # the old folder during a (non-Linux) rename dance: `.{name}.dn-old`


class RefusedWrite(ValueError):
    """Writing would replace or delete something the program did not write (the message says what)."""


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder's entry table (so renames into it survive a crash)."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # a platform that cannot open folders (Windows): nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for f in files:
            fsync_path(Path(root) / f)
        fsync_path(Path(root))


def _mode(path: Path, default: int) -> int:
    """The permissions the new content gets: the old file's or folder's, else `default` (0o666 files, 0o777
    folders) less the umask, as open() and mkdir() give them. mkstemp/mkdtemp make 0o600/0o700, which another
    user (a serving container, a colleague) could not read."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        pass
    try:
        with open("/proc/self/status") as f:  # reads the umask without os.umask(), which sets it process-wide
            for line in f:
                if line.startswith("Umask:"):
                    return default & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return default & ~0o022


def _clean_stale(path: Path) -> None:
    """Remove temporary siblings left by an interrupted write of `path` (only names this module makes)."""
    for p in path.parent.glob(f".{path.name}{NEW_TAG}*"):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def recover(path: Path) -> None:
    """Finish an interrupted rename dance: `path` missing but its old folder beside it -> put the old one back."""
    old = path.with_name(f".{path.name}{OLD_TAG}")
    if old.exists() and not os.path.lexists(path):
        os.rename(old, path)
        fsync_path(path.parent)
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)


def replace_file(path: str | Path, write: Callable[[Path], None], verify: Callable[[Path], None] | None = None,
                 suffix: str = "", owned: Callable[[Path], bool] | None = None, what: str = "file") -> Path:
    """Write a file through `write(tmp)`, check it with `verify(tmp)`, then switch it into place atomically.
    A failure anywhere leaves the old file (if any) as it was and removes the temporary file. An existing
    non-empty file is replaced only when `owned(path)` says it is a `what` (when `owned` is given)."""
    path = Path(path)
    if path.is_dir():
        raise RefusedWrite(f"{path} is a folder; refusing to replace a folder with a {what}")
    if path.is_symlink():
        raise RefusedWrite(f"{path} is a symbolic link; refusing to replace it with a {what}")
    if owned is not None and path.exists() and path.stat().st_size > 0 and not owned(path):
        raise RefusedWrite(f"{path} exists and is not a {what}; refusing to replace it (choose another path or "
                           "remove the file)")
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}{NEW_TAG}", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, _mode(path, 0o666))
        write(tmp)
        fsync_path(tmp)
        if verify is not None:
            verify(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """`replace_file` for bytes already in memory."""
    return replace_file(path, lambda tmp: tmp.write_bytes(data))


def replace_dir(path: str | Path, write: Callable[[Path], None], owned: Callable[[Path], bool],
                verify: Callable[[Path], None] | None = None, what: str = "folder") -> Path:
    """Write a folder through `write(tmp_folder)`, check it with `verify`, then exchange it with the old one.

    An existing non-empty folder at `path` is replaced only when `owned(path)` says the program wrote it (else
    `RefusedWrite` naming the folder); an existing file at `path` is never replaced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    if path.is_symlink():
        raise RefusedWrite(f"{path} is a symbolic link; refusing to replace it with a {what}")
    if path.exists() and not path.is_dir():
        raise RefusedWrite(f"{path} is a file that is not a {what}; refusing to replace it")
    if path.is_dir() and any(path.iterdir()) and not owned(path):
        raise RefusedWrite(f"the folder {path} is not empty and is not a {what}; refusing to replace it "
                           "(choose a new path or empty the folder)")
    _clean_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{NEW_TAG}", dir=path.parent))
    try:
        os.chmod(tmp, _mode(path, 0o777))
        write(tmp)
        fsync_tree(tmp)
        if verify is not None:
            verify(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not path.exists():
        os.rename(tmp, path)
        fsync_path(path.parent)
        return path
    if _exchange(tmp, path):  # now `tmp` holds the old folder
        fsync_path(path.parent)
        shutil.rmtree(tmp, ignore_errors=True)
        return path
    old = path.with_name(f".{path.name}{OLD_TAG}")
    os.rename(path, old)      # a kill between these two renames is repaired by `recover`
    os.rename(tmp, path)
    fsync_path(path.parent)
    shutil.rmtree(old, ignore_errors=True)
    return path


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    r = fn(_AT_FDCWD, os.fsencode(str(a)), _AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE)
    return r == 0
