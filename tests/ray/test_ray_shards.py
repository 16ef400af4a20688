"""How the training table is cut for the Ray workers (no Ray needed): every row is in some shard, every shard has
the same length (so every rank runs the same number of steps and none waits in a collective), rank r takes rows
r, r + W, ... first, and one worker takes the table as it is."""
from hypothesis import given
from hypothesis import strategies as st

from deepnodes.dl.distributed.ray_train import shard_rows


@given(n=st.integers(1, 500), workers=st.integers(1, 16))
def test_shards_cover_every_row_with_one_length(n, workers):
    shards = shard_rows(n, workers)
    assert len(shards) == workers
    per = -(-n // workers)
    assert all(len(s) == per for s in shards)
    assert set().union(*map(set, shards)) == set(range(n))
    for r, s in enumerate(shards):
        own = list(range(r, n, workers))
        assert s[:len(own)] == own  # its own strided rows first, padding after
        assert all(0 <= i < n for i in s)


def test_one_worker_takes_the_table_in_order():
    assert shard_rows(7, 1) == [list(range(7))]
