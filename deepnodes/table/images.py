"""Images → tensor columns: decode (PIL), resize, grayscale / RGB, scale; channels-first (C, H, W).

Encoded images (a binary column of kind 'image') are decoded with PIL in threads (one per CPU; PIL releases
the GIL while decoding) straight into one preallocated (N, C, H, W) array. A tensor column of images ((N, H, W) or (N, C, H, W), any dtype) is
converted without a Python loop: channel conversion in numpy, resizing with torch's vectorised
`interpolate` (antialiased bilinear, as PIL does).

Scales: 'none' keeps the values (uint8 stays uint8), 'unit' gives float32 in [0, 1] (x / 255),
'symmetric' gives float32 in [-1, 1] (x / 127.5 - 1).

    >>> t = image_to_tensor(table, "image", size=(32, 32), mode="rgb", scale="unit")   # doctest: +SKIP
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np
import pyarrow as pa

from deepnodes.bundle.imaging import LUMA, convert_channels, pil_to_chw, scale_values  # noqa: F401 - shared with bundles

from .arrow import set_column, spec_of, tensor_array, to_numpy
from .spec import ColumnError, ColumnSpec, TableSpec

#: the largest image decoded, in pixels: a limit, so a decompression bomb (a small file of a huge image) is a
#: sentence, not gigabytes of memory. PIL itself warns above 89 MP and refuses above 179 MP.
MAX_IMAGE_PIXELS = 100_000_000

MODES = ("keep", "grayscale", "rgb")
SCALES = ("none", "unit", "symmetric")


def _channels_of_tensor(shape: tuple) -> int | None:
    if len(shape) == 2:
        return 1
    if len(shape) == 3:
        return shape[0]
    return None


def image_to_tensor_spec(spec: TableSpec, column: str, output_column: str = "", size: Sequence[int] | None = None,
                         mode: str = "keep", scale: str = "unit") -> TableSpec:
    from .ops import require_column

    col = require_column(spec, column, "column", ("image", "tensor"))
    if mode not in MODES:
        raise ValueError(f"option 'mode' is '{mode}'; it must be one of {', '.join(MODES)}")
    if scale not in SCALES:
        raise ValueError(f"option 'scale' is '{scale}'; it must be one of {', '.join(SCALES)}")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"option 'size' is {list(size)}; it must be [height, width] with both at least 1")
    if col.kind == "tensor":
        shape = col.shape or ()
        c = _channels_of_tensor(shape)
        if c is None or c not in (1, 3, 4):
            raise ColumnError(f"column '{column}' (option 'column') has shape {list(shape)}; an image tensor "
                              "is (H, W) or (C, H, W) with 1, 3 or 4 channels")
        h, w = shape[-2], shape[-1]
        dtype = col.dtype
    else:
        c, h, w, dtype = None, None, None, "uint8"
    if size is not None:
        h, w = int(size[0]), int(size[1])
    if mode == "grayscale":
        c = 1
    elif mode == "rgb":
        c = 3
    out_dtype = dtype if scale == "none" else "float"
    name = output_column or column
    return spec.with_columns([ColumnSpec(name, "tensor", out_dtype, (c, h, w))])


def open_image(data: bytes, column: str = "image", row: int = 0, option: str = "column"):
    """Encoded image bytes opened with PIL (the header only, nothing decoded yet); a ValueError naming the column
    (and the node's `option` that names it) and row for bytes that are not an image and for an image over
    MAX_IMAGE_PIXELS."""
    import re
    import warnings

    from PIL import Image

    where = f"column '{column}' (option '{option}') holds"
    limit = f"in row {row}, over the limit of {MAX_IMAGE_PIXELS // 1_000_000} megapixels"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        px = re.search(r"\((\d+) pixels\)", str(e))
        size = f" of {int(px.group(1)) / 1e6:.0f} megapixels" if px else ""
        raise ValueError(f"{where} an image{size} {limit}") from None
    except Exception:  # noqa: BLE001 - PIL raises many types for broken files
        raise ValueError(f"{where} bytes in row {row} that are not an image PIL can read") from None
    w, h = im.size
    if w * h > MAX_IMAGE_PIXELS:
        raise ValueError(f"{where} an image of {w}×{h} pixels ({w * h / 1e6:.0f} megapixels) {limit}")
    return im


#: rows per task when decoding in threads (PIL releases the GIL while it decodes, so threads use every core)
DECODE_CHUNK = 256


def _decode_one(data, i: int, size, mode: str, column: str, option: str = "column") -> np.ndarray:
    if data is None:
        raise ValueError(f"column '{column}' (option '{option}') has a missing image in row {i}")
    im = open_image(data, column, i, option)
    try:
        im.load()
    except Exception:  # noqa: BLE001 - PIL raises many types for broken files
        raise ValueError(f"column '{column}' (option '{option}') holds bytes in row {i} that are not an image "
                         "PIL can read") from None
    return pil_to_chw(im, mode, size)


def decode_images(values: Sequence[bytes | None], size: Sequence[int] | None = None, mode: str = "keep",
                  column: str = "image", workers: int | None = None) -> np.ndarray:
    """Encoded images → one (N, C, H, W) uint8 array (PIL decodes; resizing is bilinear), in `workers` threads
    (default: one per CPU, at most 8) writing into one preallocated array. A bad row raises the sentence a
    one-by-one decode would: the first bad row's."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    n = len(values)
    if n == 0:
        c = {"grayscale": 1, "rgb": 3}.get(mode, 1)
        h, w = (size or (0, 0))
        return np.empty((0, c, h, w), dtype=np.uint8)
    first = _decode_one(values[0], 0, size, mode, column)
    out = np.empty((n, *first.shape), dtype=np.uint8)
    out[0] = first
    failed = [n]  # the lowest failing row so far: later chunks stop early

    def run(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            if i > failed[0]:
                return
            try:
                a = _decode_one(values[i], i, size, mode, column)
                if a.shape != first.shape:
                    raise ValueError(f"column '{column}' (option 'column') holds images of different sizes or "
                                     f"channels ({'×'.join(map(str, first.shape))} in row 0, "
                                     f"{'×'.join(map(str, a.shape))} in row {i}); set option 'size' and option "
                                     "'mode' to make them alike")
            except ValueError:
                failed[0] = min(failed[0], i)
                raise
            out[i] = a

    chunks = [(lo, min(n, lo + DECODE_CHUNK)) for lo in range(1, n, DECODE_CHUNK)]
    workers = min(len(chunks), workers or min(os.cpu_count() or 1, 8))
    if workers <= 1:
        for lo, hi in chunks:
            run(lo, hi)
        return out
    with ThreadPoolExecutor(workers, thread_name_prefix="decode") as ex:
        futures = [ex.submit(run, lo, hi) for lo, hi in chunks]
    for f in futures:  # in row order: the first chunk that failed holds the first bad row
        f.result()
    return out


def resize_batch(x: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """(N, C, H, W) → (N, C, h, w) with antialiased bilinear interpolation, one vectorised torch call."""
    h, w = int(size[0]), int(size[1])
    if x.shape[-2:] == (h, w):
        return x
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(x)).to(torch.float32)
    y = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    if x.dtype == np.uint8:
        return y.round_().clamp_(0, 255).to(torch.uint8).numpy()
    return y.numpy().astype(x.dtype, copy=False)


def image_to_tensor(table: pa.Table, column: str, output_column: str = "", size: Sequence[int] | None = None,
                    mode: str = "keep", scale: str = "unit") -> pa.Table:
    """Replace (or add, with `output_column`) a (C, H, W) tensor column made from images or an image tensor."""
    spec = spec_of(table)
    image_to_tensor_spec(spec, column, output_column, size, mode, scale)
    col = table.column(column)
    if spec.column(column).kind == "tensor":
        x = to_numpy(col)
        if x.ndim == 3:
            x = x[:, None]
        x = convert_channels(x, mode)
        if size is not None:
            x = resize_batch(x, size)
    else:
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        x = decode_images(col.to_pylist(), size, mode, column)
    return set_column(table, output_column or column, tensor_array(scale_values(x, scale)))


# --------------------------------------------------------------------------- image folders
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _folder(folder) -> "Path":
    from pathlib import Path

    if not str(folder):
        raise ValueError("no image folder is set; set option 'path'")
    p = Path(folder).expanduser()
    if not p.is_dir():
        raise FileNotFoundError(f"the image folder '{p}' (option 'path') does not exist")
    return p


def image_folder_classes(folder) -> list[str]:
    """The class names of an image folder: its subfolders, sorted."""
    p = _folder(folder)
    classes = sorted(d.name for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"the image folder '{p}' (option 'path') has no subfolders; put each class's images in "
                         "a subfolder named after the class")
    return classes


def image_folder_files(folder, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[tuple[str, "Path"]]:
    """(class name, file) for every image file, classes and files in sorted order."""
    p = _folder(folder)
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    out = []
    for cls in image_folder_classes(p):
        for f in sorted((p / cls).rglob("*")):
            if f.is_file() and f.suffix.lower() in exts:
                out.append((cls, f))
    return out


def image_folder_spec(folder) -> TableSpec:
    classes = tuple(image_folder_classes(folder))
    return TableSpec((ColumnSpec("row_id", "integer", "int64"), ColumnSpec("image", "image", "binary"),
                      ColumnSpec("label", "integer", "int64"), ColumnSpec("class_name", "category", "string", None, classes),
                      ColumnSpec("path", "string", "string")))


def read_image_folder(folder, extensions: Sequence[str] = IMAGE_EXTENSIONS, limit: int | None = None) -> pa.Table:
    """One row per image file: encoded bytes (kind 'image'), `label` (index of its subfolder), `class_name`, `path`."""
    from .arrow import ROW_ID, category_field, category_from_codes, mark

    classes = image_folder_classes(folder)
    files = image_folder_files(folder, extensions)
    if limit is not None:
        files = files[:limit]
    if not files:
        raise ValueError(f"the image folder '{folder}' (option 'path') holds no image files with the extensions "
                         f"{', '.join(extensions)}")
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[c] for c, _ in files], dtype=np.int64)
    data = [f.read_bytes() for _, f in files]
    schema = pa.schema([pa.field(ROW_ID, pa.int64()), mark(pa.field("image", pa.binary()), "image"),
                        pa.field("label", pa.int64()), category_field("class_name", classes),
                        pa.field("path", pa.string())])
    return pa.Table.from_arrays([pa.array(np.arange(len(files), dtype=np.int64)), pa.array(data, pa.binary()),
                                 pa.array(labels), category_from_codes(labels, classes),
                                 pa.array([str(f) for _, f in files], pa.string())], schema=schema)
