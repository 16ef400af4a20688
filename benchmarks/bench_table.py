"""Tables benchmark: a 60,000 × 28 × 28 uint8 tensor column → a float32 torch tensor without a Python loop.

Shows that the uint8 numpy / torch views share the Arrow buffer (no copy), times the vectorised paths,
and sets them beside a per-row Python loop (measured on a slice, scaled to 60,000 rows).

    .venv/bin/python benchmarks/bench_table.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import torch  # noqa: E402

from deepnodes.table.arrow import tensor_array, to_numpy, to_torch  # noqa: E402


def best(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    t0 = time.perf_counter()
    try:
        from deepnodes.datasets import load_dataset

        table = load_dataset("fashion-mnist", "train")
        source = "Fashion-MNIST train (Debian package)"
    except Exception:  # noqa: BLE001 - no dataset here: the same shape of random pixels
        rng = np.random.default_rng(0)
        table = pa.table({"image": tensor_array(rng.integers(0, 256, (60_000, 1, 28, 28), dtype=np.uint8))})
        source = "random pixels"
    load_s = time.perf_counter() - t0
    col = table.column("image")
    n = table.num_rows
    print(f"data: {source}, {n} rows, column type {col.type}, {col.num_chunks} chunk(s); loaded in {load_s:.3f} s")

    # --- zero copy: the uint8 view points into the Arrow buffer
    chunk = col.chunks[0]
    arrow_addr = chunk.storage.flatten().buffers()[1].address
    arr = to_numpy(col)
    view = to_torch(col)
    print(f"uint8 numpy view {arr.shape} {arr.dtype}: data pointer == Arrow buffer: {arr.ctypes.data == arrow_addr}, "
          f"np.shares_memory with the buffer: "
          f"{np.shares_memory(arr, np.frombuffer(chunk.storage.flatten().buffers()[1], dtype=np.uint8))}")
    print(f"uint8 torch view {tuple(view.shape)}: data_ptr == Arrow buffer: {view.data_ptr() == arrow_addr}")
    sl = col.slice(12_345, 5)
    sl_arr = to_numpy(sl)
    print(f"a 5-row slice gives {sl_arr.shape}, still a view: {np.shares_memory(sl_arr, arr)}, "
          f"same pixels: {np.array_equal(sl_arr, arr[12_345:12_350])}")

    # --- timings (best of 5)
    t_np, _ = best(lambda: to_numpy(col))
    t_view, _ = best(lambda: to_torch(col))
    t_f32, x = best(lambda: to_torch(col, torch.float32))
    t_unit, y = best(lambda: to_torch(col).to(torch.float32).div_(255.0))
    t_copy, _ = best(lambda: col.combine_chunks())
    m = 2_000
    small = col.slice(0, m)

    def loop():
        return torch.stack([torch.tensor(np.asarray(small[i].to_numpy()), dtype=torch.float32)
                            for i in range(m)])
    t_loop_m, z = best(loop, repeat=2)
    t_loop = t_loop_m * n / m
    assert torch.equal(z, x[:m])
    print(f"{'path':58s} {'seconds':>10s} {'vs loop':>9s}")
    rows = [("to_numpy (uint8 view)", t_np), ("to_torch (uint8 view)", t_view),
            ("to_torch(..., float32) (one vectorised cast)", t_f32), ("uint8 view → float32 / 255 (in place)", t_unit),
            ("combine_chunks() (copies; avoided)", t_copy),
            (f"per-row Python loop ({m} rows measured, scaled to {n})", t_loop)]
    for name, t in rows:
        print(f"{name:58s} {t:10.5f} {t_loop / t:8.0f}×")
    print(f"float32 tensor {tuple(y.shape)}, {y.element_size() * y.nelement() / 1e6:.0f} MB, max {float(y.max()):.3f}")

    # --- the Image to Tensor node's work on the whole column (scale to [0, 1])
    from deepnodes.table.images import image_to_tensor

    t_node, out = best(lambda: image_to_tensor(table, "image", scale="unit"), repeat=3)
    print(f"image_to_tensor(scale='unit') on {n} rows: {t_node:.3f} s")
    t_resize, _ = best(lambda: image_to_tensor(table.slice(0, 10_000), "image", size=(32, 32), mode="rgb"), repeat=1)
    print(f"image_to_tensor(size=32×32, rgb) on 10,000 rows (vectorised torch interpolate): {t_resize:.3f} s")


if __name__ == "__main__":
    main()
