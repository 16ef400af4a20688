"""Encoded images decoded in threads give the array, and the error sentence, of a one-by-one decode (hypothesis:
random images, chunk boundaries and bad rows: missing, not an image, another size)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from deepnodes.table import images
from deepnodes.table.arrow import encode_png

rows = st.lists(st.one_of(st.just("ok"), st.just("ok"), st.just("ok"), st.just("none"), st.just("junk"),
                          st.just("big")), min_size=1, max_size=30)


def _values(kinds, seed):
    rng = np.random.default_rng(seed)
    out, pixels = [], []
    for k in kinds:
        img = rng.integers(0, 256, (6, 5), dtype=np.uint8)
        pixels.append(img)
        out.append({"ok": encode_png(img), "none": None, "junk": b"not a png",
                    "big": encode_png(np.zeros((7, 5), np.uint8))}[k])
    return out, pixels


def _decode(values, workers):
    try:
        return images.decode_images(values, None, "keep", "image", workers=workers), None
    except ValueError as e:
        return None, str(e)


@settings(max_examples=120, deadline=None)
@given(rows, st.integers(1, 5), st.integers(2, 6), st.integers(0, 10))
def test_threads_decode_like_one_by_one(monkeypatch, kinds, chunk, workers, seed):
    monkeypatch.setattr(images, "DECODE_CHUNK", chunk)
    values, pixels = _values(kinds, seed)
    want, want_err = _decode(values, 1)
    got, got_err = _decode(values, workers)
    assert got_err == want_err
    if want_err is None:
        np.testing.assert_array_equal(got, want)
        if "big" not in kinds:
            np.testing.assert_array_equal(got[:, 0], np.stack(pixels))
    else:  # the first bad row is named: missing, not an image, or another size than row 0's
        height = {"ok": 6, "big": 7}
        first_bad = next(i for i, k in enumerate(kinds) if k not in height or height[k] != height.get(kinds[0]))
        assert f"row {first_bad}" in got_err


def test_many_rows_in_threads_are_the_images(monkeypatch):
    values, pixels = _values(["ok"] * 1000, 3)
    got = images.decode_images(values, (3, 4), "rgb", "image", workers=3)
    assert got.shape == (1000, 3, 3, 4)
    one = images.decode_images(values, (3, 4), "rgb", "image", workers=1)
    np.testing.assert_array_equal(got, one)
