"""Per-request cost of a served text classifier on its three paths, in process (docs/benchmarks.md, "Service").

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_service_text_paths.py [--requests 200]

The segment is the one `tests/service/test_service_text.py` serves (Service Input → Text to Index Sequence with a
fixed length → Network Executor → Service Output; a character-level English/German classifier trained on real
sentences). A one-row request runs through a fresh engine, through the nodes called in order (`service/fast.py`)
and through the bundle's runner (`service/compiled.py`), alternately, twice each; wall and CPU milliseconds per request.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepnodes.service.compiled import compile_segment  # noqa: E402
from deepnodes.service.fast import FastPlan  # noqa: E402
from tests.service import test_service_text as served  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    n = ap.parse_args().requests
    seg = served._segment(Path(tempfile.mkdtemp()), {"length": served.LENGTH, "add_start": True})
    table = served._table(seg, ["Good morning, how are you?"])
    paths = (("engine", seg.run), ("nodes", FastPlan(seg).run), ("bundle", compile_segment(seg).run))
    for name, run in paths * 2:
        for _ in range(20):
            run(table)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            run(table)
        print(f"{name:>6}: {(time.perf_counter() - wall) / n * 1000:6.2f} ms wall, "
              f"{(time.process_time() - cpu) / n * 1000:6.2f} ms CPU per one-row request", flush=True)


if __name__ == "__main__":
    main()
