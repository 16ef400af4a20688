"""Micro-batching of concurrent requests (after LitServe's loop: drain the queue up to a batch size or a wait).

A row-wise segment (every served node maps each row on its own: image decoding, the Network Executor...) runs the
requests waiting in the queue as one table, one engine run and one ONNX Runtime call, and splits the result by
each request's row count. Requests that arrive while a batch runs form the next one; while more keep arriving, a
forming batch yields to the event loop a few turns (`GATHER_SPINS`) so the requests being read join it (at
concurrency 1 that is one turn); `max_wait_ms` > 0 also holds the first request of a batch that long for company.
The bundle runner's batches are lists of checked rows (images decoded by the check), the others' Arrow tables. If a batch fails, each
of its requests runs alone, so one bad request fails only itself (LitServe fails the whole batch). A segment that
is not row-wise runs per request through the engine, on up to `parallel` threads; a row-wise one takes the fast
path (the bundle's runner, `compiled.py`, else the nodes, `fast.py`) unless `fast` is off. The fast path runs a
batch of up to `max_batch` rows (at least 32) in the event loop's own thread: handing it to a worker thread and
back cost ~2 ms per request on a busy machine, more than the work (~0.5 ms for a Fashion-MNIST image with the
bundle's runner; handing batches to the thread while other requests were being read made neither the batches
larger nor concurrency 32 faster, and concurrency 1 slower); larger batches and engine runs go to threads, so
they never hold up /health.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from .segment import NodeFailed, Segment


GATHER_SPINS = 8  # turns of the event loop a forming batch waits while requests keep arriving


class Batcher:
    def __init__(self, segment: Segment, max_batch: int = 32, max_wait_ms: float = 0.0,
                 observe: Callable[[float], None] | None = None, parallel: int = 2, fast: bool = True):
        self.segment = segment
        self.fast = fast and segment.row_wise
        self.runner, self.plan, self.why_not_bundle = _runner(segment, self.fast)
        self.run = self.plan.run  # a request table -> the Service Output table
        # the bundle runner takes checked rows (images decoded once, by the check) and gives answer rows; the
        # other runners take and give tables: `_unit` runs one batch of the runner's own kind
        self.rows = self.runner == "bundle"
        self._unit = self.plan.run_rows if self.rows else self.plan.run
        self.max_batch = max(1, int(max_batch))
        self.max_wait = max(0.0, float(max_wait_ms)) / 1000.0
        self.observe = observe or (lambda n: None)
        self.batching = segment.row_wise and self.max_batch > 1
        self.pool = ThreadPoolExecutor(max_workers=1 if self.batching else parallel, thread_name_prefix="service")
        self.inline_rows = max(self.max_batch, 32) if self.fast else 0  # batches run in the loop's thread
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None

    def warm(self) -> str | None:
        """Run the Service Input's example row once, before the first request: the ONNX export, the Runtime session
        and lazy imports are made now, not on a client's time. Returns why it failed (requests will say so too)."""
        from .decode import RequestError, checked_rows, decode_rows

        seg = self.segment
        try:
            self._unit((checked_rows if self.rows else decode_rows)(seg.columns, [seg.example], 1))
        except (RequestError, NodeFailed) as e:
            return str(e)
        return None

    async def submit(self, table) -> Any:
        """The Service Output table for one request's table (raises `NodeFailed`)."""
        if self.rows:
            return self.plan.table(await self.submit_rows(table.to_pylist()))
        return await self._submit(table)

    async def submit_rows(self, rows: list[dict]) -> list[dict]:
        """The answer rows for one request's checked rows (`decode.checked_rows`); the bundle runner only."""
        assert self.rows, "only the bundle runner takes rows"
        return await self._submit(rows)

    async def _submit(self, unit) -> Any:
        loop = asyncio.get_running_loop()
        if not self.batching:
            self.observe(_count(unit))
            if _count(unit) <= self.inline_rows:
                return self._unit(unit)
            return await loop.run_in_executor(self.pool, self._unit, unit)
        if self._worker is None or self._worker.done():  # the first request (of this event loop)
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._work())
        fut = loop.create_future()
        self._queue.put_nowait((unit, fut))
        return await fut

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        q = self._queue
        while True:
            batch = [await q.get()]
            await self._gather(batch)
            live = [(t, f) for t, f in batch if not f.done()]  # a client that went away is not computed
            if not live:
                continue
            units = [t for t, _ in live]
            if sum(_count(t) for t in units) <= self.inline_rows:
                results = self._run(units)
            else:
                results = await loop.run_in_executor(self.pool, self._run, units)
            for (_, fut), res in zip(live, results):
                if fut.done():
                    continue
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)
            await asyncio.sleep(0)  # the answers go out (and new requests are read) before the next batch

    async def _gather(self, batch: list) -> None:
        """Add the queued requests to `batch`, up to `max_batch` rows. While requests keep arriving (read by the
        event loop in the meantime) it yields to the loop, at most `GATHER_SPINS` times, so they join this batch
        instead of waiting for the next; at concurrency 1 that is one turn of the loop. Then up to `max_wait`."""
        loop = asyncio.get_running_loop()
        q = self._queue
        rows = _count(batch[0][0])
        deadline = loop.time() + self.max_wait
        spins, grew = 0, True
        while rows < self.max_batch:
            try:
                item = q.get_nowait()
            except asyncio.QueueEmpty:
                if grew and spins < GATHER_SPINS:
                    spins, grew = spins + 1, False
                    await asyncio.sleep(0)
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(q.get(), left)
                except asyncio.TimeoutError:
                    break
            batch.append(item)
            rows += _count(item[0])
            grew = True

    def _run(self, units: list) -> list:
        """One run for all `units` (tables or row lists), split back; each alone when that fails or rows do not
        line up."""
        import pyarrow as pa

        if len(units) > 1:
            try:
                whole = [r for u in units for r in u] if self.rows else pa.concat_tables(units)
                n = _count(whole)
                self.observe(n)
                out = self._unit(whole)
                if _count(out) == n:
                    parts, at = [], 0
                    for u in units:
                        k = _count(u)
                        parts.append(out[at:at + k] if self.rows else out.slice(at, k))
                        at += k
                    return parts
            except (NodeFailed, pa.ArrowInvalid):
                pass
        results: list = []
        for u in units:
            self.observe(_count(u))
            try:
                results.append(self._unit(u))
            except Exception as e:  # noqa: BLE001 - handed to that request's handler
                results.append(e)
        return results

    def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


def _count(unit) -> int:
    """Rows in a table or a list of rows."""
    return len(unit) if isinstance(unit, list) else unit.num_rows


def _runner(segment: Segment, fast: bool) -> tuple[str, Any, str | None]:
    """("bundle", the bundle runner's plan) where the segment compiles to it, else ("nodes", the nodes called in
    order), or ("engine", the segment: an engine run per request) when the fast path is off or does not apply;
    and why the bundle runner was not used."""
    from .compiled import NotCompiled, compile_segment
    from .fast import FastPlan

    if not fast:
        return "engine", segment, "the fast path is off or the segment is not row-wise"
    try:
        return "bundle", compile_segment(segment), None
    except NotCompiled as e:
        return "nodes", FastPlan(segment), str(e)
