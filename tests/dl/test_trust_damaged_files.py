"""Issue 17, sections 1 and 7: reading a network or model file is bounded, and a damaged file of any format is a
clean one-sentence error or loads and works. Real files of every format, truncated and byte-flipped (hypothesis),
plus zip bombs that must be refused before anything is read into memory."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trust_samples import FILES, FORMATS, make_samples, read, use

EXAMPLES = int(os.environ.get("DEEPNODES_FUZZ_EXAMPLES", "100"))
_SAMPLES: dict[str, Path] = {}


def _samples(tmp_path_factory) -> dict[str, Path]:
    if not _SAMPLES:
        _SAMPLES.update(make_samples(tmp_path_factory.mktemp("samples")))
    return _SAMPLES


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    import deepnodes.dl.formats.h5_screen as h5

    old, h5.TIMEOUT = h5.TIMEOUT, 20.0  # a damaged HDF5 file that hangs h5py costs 20 s here, not 60
    yield _samples(tmp_path_factory)
    h5.TIMEOUT = old


damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                                        min_size=1, max_size=12)),
    st.tuples(st.just("zero"), st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 64))),
)


def _damaged(data: bytes, how) -> bytes:
    kind, arg = how
    d = bytearray(data)
    if kind == "truncate":
        return bytes(d[:int(arg * len(d))])
    if kind == "flip":
        for pos, mask in arg:
            d[int(pos * len(d))] ^= mask
        return bytes(d)
    pos, n = arg
    i = int(pos * len(d))
    d[i:i + n] = bytes(len(d[i:i + n]))
    return bytes(d)


def _clean_or_works(fmt: str, path: Path) -> None:
    try:
        obj = read(fmt, path)
    except ValueError as e:  # NetworkFormatError, ExportError, ZipRefused are ValueErrors
        msg = str(e)
        assert not isinstance(e, UnicodeError), f"a raw {type(e).__name__}: {msg}"  # a codec's words, not ours
        assert msg and "\n" not in msg and len(msg) < 600, msg
        assert "Traceback" not in msg
        assert path.name in msg, f"the message does not name the file: {msg}"
        return
    use(fmt, obj)  # it loaded: then it must also work


@pytest.mark.parametrize("fmt", FORMATS)
def test_damaged_files_fail_cleanly_or_load_and_work(samples, tmp_path_factory, fmt):
    original = samples[fmt].read_bytes()
    folder = tmp_path_factory.mktemp(f"damaged_{fmt}")
    _clean_or_works(fmt, samples[fmt])  # the undamaged file loads

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(how=damage)
    def check(how):
        p = folder / FILES[fmt]
        p.write_bytes(_damaged(original, how))
        _clean_or_works(fmt, p)

    check()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_folder_or_an_empty_file_where_a_file_is_expected(samples, tmp_path, fmt):
    d = tmp_path / FILES[fmt]
    if fmt != "native":  # a folder is a valid native network location
        d.mkdir()
        with pytest.raises(ValueError, match=r"folder|not a"):
            read(fmt, d)
        d.rmdir()
    d.write_bytes(b"")
    with pytest.raises(ValueError):
        read(fmt, d)


def test_an_hdf5_file_that_hangs_h5py_is_refused_in_time(tmp_path):
    """A real file the fuzzing found (data/hangs_h5py.h5: a Keras .h5 with 20 flipped bytes): reading one of
    its attributes makes h5py loop forever. The child-process screen refuses it within its time limit."""
    import time

    import deepnodes.dl.formats.h5_screen as h5
    from deepnodes.dl.formats.keras import import_keras

    hang = Path(__file__).parent / "data" / "hangs_h5py.h5"
    old, h5.TIMEOUT = h5.TIMEOUT, 5.0
    try:
        t = time.monotonic()
        with pytest.raises(ValueError, match=r"the Keras file hangs_h5py.h5 is damaged: reading its HDF5 data did "
                                             r"not finish within 5 s"):
            import_keras(hang)
        assert time.monotonic() - t < 60
    finally:
        h5.TIMEOUT = old


# ------------------------------------------------------------------------------------------ zip bombs
def _zeros_deflated(size: int) -> tuple[bytes, int]:
    """A valid raw deflate stream of `size` zero bytes (size a multiple of 1 MiB), and its CRC-32, made in
    about a second: after a full flush, every further MiB of zeros deflates to the same bytes."""
    import zlib

    mib = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    rest = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size >> 20):
        crc = zlib.crc32(mib, crc)
    return first + rest * ((size >> 20) - 1) + c.flush(), crc


def _with_entry(src: Path, dst: Path, name: str, size: int, compress: bool) -> Path:
    """A copy of a real zip file (.dnn, .keras, ...) with one more entry of `size` zero bytes: deflated (a bomb of
    a few MB on disk) or stored (really `size` bytes)."""
    import struct
    import zlib

    with zipfile.ZipFile(src) as z:
        entries = [(i, z.read(i.filename)) for i in z.infolist()]
    if compress:
        data, crc = _zeros_deflated(size)
    else:
        data = bytes(size)
        crc = zlib.crc32(data)
    out = bytearray()
    central = bytearray()
    rows = [(i.filename.encode(), i.compress_type, zipfile.crc32(raw) & 0xFFFFFFFF,
             zlib.compress(raw)[2:-4] if i.compress_type == zipfile.ZIP_DEFLATED else raw, len(raw))
            for i, raw in entries]
    rows.append((name.encode(), zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED, crc & 0xFFFFFFFF, data, size))
    for fname, method, c, payload, usize in rows:
        extra = struct.pack("<HHQQ", 1, 16, usize, len(payload))
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, c, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(fname), len(extra)) + fname + extra + payload
        cextra = struct.pack("<HHQQQ", 1, 24, usize, len(payload), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0x21, c, 0xFFFFFFFF,
                               0xFFFFFFFF, len(fname), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + fname + cextra
    cd_offset = len(out)
    out += central
    z64 = len(out)
    n = len(rows)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    dst.write_bytes(bytes(out))
    return dst


_BOMB = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[2])
from deepnodes.dl.formats.native import load_network
t = time.time()
try:
    load_network(sys.argv[1])
    print("LOADED")
except ValueError as e:
    print("REFUSED", e)
print("seconds", time.time() - t)
# the peak of this process's own memory: VmHWM starts anew at exec, while ru_maxrss keeps the peak of the
# (large) pytest process this child was forked from
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
print("maxrss_kb", int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _load_in_child(p: Path) -> tuple[str, float, int]:
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", _BOMB, str(p), str(root)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    out = r.stdout
    rss = int(out.split("maxrss_kb")[1].split()[0])
    return out, float(out.split("seconds")[1].split()[0]), rss


def test_dnn_with_an_unused_3gib_compressed_entry_is_refused_with_low_memory(samples, tmp_path):
    p = _with_entry(samples["native"], tmp_path / "bomb.dnn", "junk.bin", 3 << 30, compress=True)
    assert p.stat().st_size < 10 << 20  # deflated zeros: a few MB on disk
    out, seconds, rss = _load_in_child(p)
    assert "REFUSED" in out and "zip bomb" in out, out
    assert rss < 1_000_000, f"{rss} kB of memory"  # torch alone is ~300 MB; 3 GiB would be far above


def test_zip_entry_expanding_past_its_ratio_is_refused_for_every_zip_format(samples, tmp_path):
    for fmt in ("native", "torchscript", "keras", "skops"):
        p = _with_entry(samples[fmt], tmp_path / FILES[fmt], "bomb.bin", 256 << 20, compress=True)
        with pytest.raises(ValueError, match="zip bomb"):
            read(fmt, p)


def test_dnn_with_an_undeclared_stored_entry_is_refused_before_reading(samples, tmp_path):
    p = _with_entry(samples["native"], tmp_path / "extra.dnn", "junk.bin", 8 << 20, compress=False)
    with pytest.raises(ValueError, match="holds an entry 'junk.bin' that the format does not define"):
        read("native", p)


def test_weights_larger_than_declared_are_refused(samples, tmp_path):
    with zipfile.ZipFile(samples["native"]) as z:
        head = json.loads(z.read("network.json"))
        w = z.read("weights.safetensors")
    for extra, sizes in ((bytes(1 << 20), True), (bytes(1 << 20), False)):
        h = dict(head)
        if not sizes:
            h.pop("sizes")
        p = tmp_path / f"big{sizes}.dnn"
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("network.json", json.dumps(h))
            z.writestr("weights.safetensors", w + extra)
        with pytest.raises(ValueError, match="holds .* bytes, more than|not the .* declares"):
            read("native", p)

