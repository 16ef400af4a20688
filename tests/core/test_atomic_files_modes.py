"""Writes through core/atomic_files get the permissions a plain open()/mkdir() would give (the umask's), or keep
the old file's or folder's: the temporary siblings' 0o600 / 0o700 never reach the result, so a network written
for another user (a serving container) can be read by it."""
import os
import stat

import pytest

from deepnodes.core.atomic_files import replace_dir, replace_file


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture(params=[0o022, 0o027, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_new_files_and_folders_follow_the_umask(tmp_path, umask):
    f = replace_file(tmp_path / "a.bin", lambda tmp: tmp.write_bytes(b"x"))
    assert _mode(f) == 0o666 & ~umask
    d = replace_dir(tmp_path / "net", lambda tmp: (tmp / "w.txt").write_text("w"), owned=lambda p: True)
    assert _mode(d) == 0o777 & ~umask
    assert _mode(d / "w.txt") == 0o666 & ~umask


def test_a_replaced_file_or_folder_keeps_its_permissions(tmp_path, umask):
    f = tmp_path / "a.bin"
    f.write_bytes(b"old")
    os.chmod(f, 0o640)
    replace_file(f, lambda tmp: tmp.write_bytes(b"new"))
    assert f.read_bytes() == b"new" and _mode(f) == 0o640
    d = tmp_path / "net"
    d.mkdir()
    (d / "w.txt").write_text("old")
    os.chmod(d, 0o705)
    replace_dir(d, lambda tmp: (tmp / "w.txt").write_text("new"), owned=lambda p: True)
    assert (d / "w.txt").read_text() == "new" and _mode(d) == 0o705
