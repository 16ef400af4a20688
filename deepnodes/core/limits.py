"""Upper bounds of node options that drive work (epochs, rows, units, sizes...), in one place.

A bound turns an absurd value (`--set learner.epochs=1e23`, `units=10**11`) into a configure-time error that
names the option, instead of a run that never ends or a crash for memory. The bounds are far above any
real use; `tests/core/test_trust_set.py` checks that every integer option of every node type has one.
"""
from typing import Annotated

from pydantic import Field

SEED = 2 ** 63 - 1          # random seeds: anything a 64-bit generator takes
ROWS = 10 ** 12             # row counts and limits, lines to skip
EPOCHS = 1_000_000          # passes, iterations, rounds, patience
BATCH = 2 ** 24             # rows per batch or step
SIZE = 2 ** 20              # layer widths (units, filters, heads), kernel sizes, strides, padding, axes
IMAGE_SIDE = 2 ** 15        # pixels on one side of a resized image
LENGTH = 2 ** 24            # sequence lengths, steps, chunks, tensor dimensions
VOCAB = 2 ** 24             # dictionary sizes, embedding rows, classes, top-k
THREADS = 1024              # worker threads / jobs
SECONDS = 86_400.0          # intervals in seconds

#: one side of an image, in pixels
Side = Annotated[int, Field(ge=1, le=IMAGE_SIDE)]
#: one dimension of a tensor shape (without the batch dimension); -1 = a variable size where a node allows it
Dim = Annotated[int, Field(ge=-1, le=LENGTH)]
#: an image size [height, width]
ImageSize = Annotated[list[Side], Field(min_length=2, max_length=2)]
#: a layer width (units of a hidden layer)
Width = Annotated[int, Field(ge=1, le=SIZE)]
