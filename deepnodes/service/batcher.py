"""Micro-batching of concurrent requests (after LitServe's loop: drain the queue up to a batch size or a wait).

A row-wise segment (every served node maps each row on its own: image decoding, the Network Executor...) runs the
requests waiting in the queue as one table, one engine run and one ONNX Runtime call, and splits the result by
each request's row count. Requests that arrive while a batch runs form the next one (so at concurrency 1 nothing
waits); `max_wait_ms` > 0 also holds the first request of a batch that long for company. If a batch fails, each
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


class Batcher:
    def __init__(self, segment: Segment, max_batch: int = 32, max_wait_ms: float = 0.0,
                 observe: Callable[[float], None] | None = None, parallel: int = 2, fast: bool = True):
        self.segment = segment
        self.fast = fast and segment.row_wise
        self.runner, self.run, self.why_not_bundle = _runner(segment, self.fast)
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
        from .decode import RequestError, decode_rows

        try:
            self.run(decode_rows(self.segment.columns, [self.segment.example], 1))
        except (RequestError, NodeFailed) as e:
            return str(e)
        return None

    async def submit(self, table) -> Any:
        """The Service Output table for one request's table (raises `NodeFailed`)."""
        loop = asyncio.get_running_loop()
        if not self.batching:
            self.observe(table.num_rows)
            if table.num_rows <= self.inline_rows:
                return self.run(table)
            return await loop.run_in_executor(self.pool, self.run, table)
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work())
        fut = loop.create_future()
        self._queue.put_nowait((table, fut))
        return await fut

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        q = self._queue
        while True:
            batch = [await q.get()]
            rows = batch[0][0].num_rows
            deadline = loop.time() + self.max_wait
            while rows < self.max_batch:
                try:
                    item = q.get_nowait()
                except asyncio.QueueEmpty:
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(q.get(), left)
                    except asyncio.TimeoutError:
                        break
                batch.append(item)
                rows += item[0].num_rows
            live = [(t, f) for t, f in batch if not f.done()]  # a client that went away is not computed
            if not live:
                continue
            tables = [t for t, _ in live]
            if sum(t.num_rows for t in tables) <= self.inline_rows:
                results = self._run(tables)
                await asyncio.sleep(0)  # let the requests that arrived meanwhile be read before the next batch
            else:
                results = await loop.run_in_executor(self.pool, self._run, tables)
            for (_, fut), res in zip(live, results):
                if fut.done():
                    continue
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

    def _run(self, tables: list) -> list:
        """One engine run for all `tables`, split back; each alone when that fails or rows do not line up."""
        import pyarrow as pa

        if len(tables) > 1:
            try:
                whole = pa.concat_tables(tables)
                self.observe(whole.num_rows)
                out = self.run(whole)
                if out.num_rows == whole.num_rows:
                    parts, at = [], 0
                    for t in tables:
                        parts.append(out.slice(at, t.num_rows))
                        at += t.num_rows
                    return parts
            except (NodeFailed, pa.ArrowInvalid):
                pass
        results: list = []
        for t in tables:
            self.observe(t.num_rows)
            try:
                results.append(self.run(t))
            except Exception as e:  # noqa: BLE001 - handed to that request's handler
                results.append(e)
        return results

    def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


def _runner(segment: Segment, fast: bool) -> tuple[str, Callable, str | None]:
    """("bundle", the bundle runner's plan) where the segment compiles to it, else ("nodes", the nodes called in
    order), or ("engine", an engine run per request) when the fast path is off or does not apply; and why the
    bundle runner was not used."""
    from .compiled import NotCompiled, compile_segment
    from .fast import FastPlan

    if not fast:
        return "engine", segment.run, "the fast path is off or the segment is not row-wise"
    try:
        return "bundle", compile_segment(segment).run, None
    except NotCompiled as e:
        return "nodes", FastPlan(segment).run, str(e)
