"""Engine and CLI overhead: a 200-node chain of trivial nodes, `deepnodes --help`, `deepnodes nodes`.

Targets (issue 2): configure + run of the chain < 0.5 s; a fully cached re-run < 50 ms; the CLI answers < 0.5 s.
Run: .venv/bin/python benchmarks/bench_engine.py
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepnodes.core import Engine  # noqa: E402
from tests.core.test_engine import chain  # noqa: E402  (the fake trivial nodes)


def best(fn, n=5):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    def cold():
        eng = Engine(chain(200))
        assert eng.run().ok

    eng = Engine(chain(200))
    eng.run()

    def cached():
        assert eng.run().ok

    c_best, c_med = best(cold)
    h_best, h_med = best(cached)
    print(f"200-node chain, configure + run:   best {c_best*1000:7.1f} ms  median {c_med*1000:7.1f} ms  (target < 500 ms)")
    print(f"200-node chain, fully cached run:  best {h_best*1000:7.1f} ms  median {h_med*1000:7.1f} ms  (target < 50 ms)")
    exe = [str(ROOT / ".venv/bin/python"), "-m", "deepnodes.cli"]
    import os
    import tempfile

    cache = tempfile.mkdtemp()
    os.environ["DEEPNODES_CACHE"] = cache
    t0 = time.perf_counter()
    subprocess.run(exe + ["nodes"], check=True, capture_output=True, cwd=ROOT)
    print(f"deepnodes nodes, first call (builds the catalogue cache): {(time.perf_counter() - t0) * 1000:7.1f} ms")
    for args in (["--help"], ["nodes"]):
        def cli():
            subprocess.run(exe + args, check=True, capture_output=True, cwd=ROOT)
        b, m = best(cli, 3)
        print(f"deepnodes {' '.join(args):<8}: best {b*1000:7.1f} ms  median {m*1000:7.1f} ms  (target < 500 ms)")
    out = subprocess.run([exe[0], "-c", "import sys, deepnodes; from deepnodes.core import registry; registry.discover();"
                          " print('torch' in sys.modules)"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    print(f"torch imported by `import deepnodes` + node discovery: {out}")


if __name__ == "__main__":
    main()
