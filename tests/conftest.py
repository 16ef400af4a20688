import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MNIST_DIR = SHARED / "data" / "mnist"

os.environ.setdefault("DEEPNODES_CACHE", str(ROOT / ".cache" / "test-cache"))


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST test files in ../shared/data/mnist (present in the project's own checkouts and CI)."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("the real MNIST test files are not here (../shared/data/mnist exists only in the project's checkouts)")
    return MNIST_DIR
