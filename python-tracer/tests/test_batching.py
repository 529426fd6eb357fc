"""The worker pool behind the model server: batches form under load, workers run side by side."""

from __future__ import annotations

import asyncio
import threading

import pytest
import torch

from stowage_tracer.serving.batching import BatchPolicy, WorkerPool


def _run(coro):
    return asyncio.run(coro)


async def _pool(runners, policy, **kw) -> WorkerPool:
    pool = WorkerPool(runners, policy, **kw)
    pool.start()
    return pool


def test_requests_queued_while_workers_are_busy_go_as_one_batch_in_order():
    gate, busy = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def run(items):
        busy.set()
        gate.wait(10)
        batches.append(list(items))
        return [i * 10 for i in items]

    async def main():
        seen: list[tuple[str, int]] = []
        pool = await _pool(
            {"m": run}, BatchPolicy(max_batch=4, window_ms=0), on_batch=lambda m, n: seen.append((m, n))
        )
        first = pool.submit("m", 0)
        # The one worker takes request 0 and blocks on the gate.
        await asyncio.get_running_loop().run_in_executor(None, busy.wait, 10)
        rest = [pool.submit("m", i) for i in range(1, 10)]
        gate.set()
        results = await asyncio.gather(first, *rest)
        pool.stop()
        return results, seen

    results, seen = _run(main())
    assert results == [i * 10 for i in range(10)]
    assert batches[0] == [0]
    # The 9 that waited went as full batches of at most 4, in arrival order.
    assert batches[1:] == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]
    assert [n for _, n in seen] == [1, 4, 4, 1]


def test_a_full_batch_does_not_wait_out_the_window():
    async def main():
        pool = await _pool(
            {"m": lambda items: [len(items)] * len(items)}, BatchPolicy(max_batch=3, window_ms=60_000)
        )
        got = await asyncio.wait_for(asyncio.gather(*[pool.submit("m", i) for i in range(3)]), 10)
        pool.stop()
        return got

    assert _run(main()) == [3, 3, 3]


def test_workers_run_passes_side_by_side_each_with_its_own_torch_threads():
    both = threading.Barrier(2, timeout=10)

    def run(items):
        both.wait()  # breaks (and fails the requests) unless two passes run at once
        return [(threading.current_thread().name, torch.get_num_threads())] * len(items)

    async def main():
        pool = await _pool(
            {"a": run, "b": run},
            BatchPolicy(max_batch=8, window_ms=0, workers=2, threads=1),
            on_worker_start=lambda: torch.set_num_threads(1),
        )
        got = await asyncio.gather(pool.submit("a", 1), pool.submit("b", 2))
        pool.stop()
        return got

    (name_a, threads_a), (name_b, threads_b) = _run(main())
    assert name_a != name_b
    assert threads_a == threads_b == 1


def test_a_failed_pass_fails_its_requests_only():
    def run(items):
        if "bad" in items:
            raise RuntimeError("boom")
        return items

    async def main():
        pool = await _pool({"bad": run, "good": run}, BatchPolicy(max_batch=8, window_ms=0))
        bad = await asyncio.gather(pool.submit("bad", "bad"), return_exceptions=True)
        good = await pool.submit("good", "ok")
        pool.stop()
        return bad, good

    bad, good = _run(main())
    assert isinstance(bad[0], RuntimeError) and good == "ok"


def test_a_nonsense_policy_is_refused():
    with pytest.raises(ValueError, match="workers"):
        BatchPolicy(workers=0)
