"""Dynamic batching over a pool of inference workers.

On a CPU a BERT forward pass for 8 questions costs far less than 8 passes (one set of weight reads, wider
matrix products), so under load a server that batches answers more requests per second at the same
latency. Requests wait in one queue per model; each of ``workers`` inference threads takes the model whose
oldest request has waited longest, with up to ``max_batch`` of its requests, as soon as either the batch
is full or its oldest request has waited ``window_ms``. While every worker is busy, requests pile up and
the next free worker takes them as one batch: batches form by themselves under load, and under light load
a request waits at most the window.

Several workers let a device with several cores run independent passes at once (each worker pins its own
torch intra-op thread count): for a small model one thread per pass and one pass per core beats one pass
spread over every core, whose per-layer synchronisation costs more than the layer itself.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BatchPolicy:
    max_batch: int = 8
    window_ms: float = 2.0
    #: Inference threads; each runs one forward pass at a time.
    workers: int = 1
    #: Torch intra-op threads of each worker (0: leave torch's setting as it is).
    threads: int = 0

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.window_ms < 0 or self.workers < 1 or self.threads < 0:
            raise ValueError(
                "batch policy: max_batch and workers must be ≥ 1, window_ms and threads ≥ 0 "
                f"(got {self.max_batch}, {self.workers}, {self.window_ms}, {self.threads})"
            )

    @property
    def enabled(self) -> bool:
        return self.max_batch > 1


# One waiting request: its input, the future its handler awaits, and when it arrived (monotonic s).
_Pending = tuple[object, asyncio.Future, float]
# Called on the event loop once per finished batch, with its model and size.
BatchObserver = Callable[[str, int], None]


class WorkerPool:
    """Queues requests per model and answers them in batches on ``policy.workers`` threads.

    ``runners[model_id](items) -> results`` runs one batch (tokenise, forward, answer) on a worker thread.
    ``submit`` is called on the event loop; results come back to it with one callback per batch.
    """

    def __init__(
        self,
        runners: dict[str, Callable[[list], list]],
        policy: BatchPolicy,
        on_batch: BatchObserver | None = None,
        on_worker_start: Callable[[], None] | None = None,
    ) -> None:
        self._runners = runners
        self._policy = policy
        self._on_batch = on_batch
        self._on_worker_start = on_worker_start
        self._pending: dict[str, deque[_Pending]] = {m: deque() for m in runners}
        self._cond = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for i in range(self._policy.workers):
            thread = threading.Thread(target=self._work, name=f"infer-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def submit(self, model_id: str, item: object) -> asyncio.Future:
        """Queues one request; the returned future resolves to its answer. Event loop only."""
        future = self._loop.create_future()  # type: ignore[union-attr]
        with self._cond:
            self._pending[model_id].append((item, future, time.monotonic()))
            self._cond.notify()
        return future

    def _next_batch(self) -> tuple[str, list[_Pending]] | None:
        """Waits for a batch that is due; None when stopping. Called with the condition held."""
        window = self._policy.window_ms / 1000
        max_batch = self._policy.max_batch
        while not self._stopping:
            now = time.monotonic()
            due: tuple[float, str] | None = None
            wake: float | None = None
            for model_id, queue in self._pending.items():
                if not queue:
                    continue
                arrived = queue[0][2]
                if len(queue) >= max_batch or now - arrived >= window:
                    if due is None or arrived < due[0]:
                        due = (arrived, model_id)
                elif wake is None or arrived + window < wake:
                    wake = arrived + window
            if due is not None:
                queue = self._pending[due[1]]
                batch = [queue.popleft() for _ in range(min(max_batch, len(queue)))]
                if any(self._pending.values()):
                    self._cond.notify()  # more is waiting: another idle worker may take it
                return due[1], batch
            self._cond.wait(None if wake is None else max(0.0, wake - now))
        return None

    def _work(self) -> None:
        if self._on_worker_start:
            self._on_worker_start()
        while True:
            with self._cond:
                taken = self._next_batch()
            if taken is None:
                return
            model_id, batch = taken
            live = [p for p in batch if not p[1].done()]  # a client may have gone away
            if not live:
                continue
            try:
                outcome: list | BaseException = self._runners[model_id]([p[0] for p in live])
            except Exception as err:  # one failed pass fails its requests, not the worker
                outcome = err
            self._loop.call_soon_threadsafe(self._deliver, model_id, live, outcome)  # type: ignore[union-attr]

    def _deliver(self, model_id: str, batch: list[_Pending], outcome: list | BaseException) -> None:
        if self._on_batch:
            self._on_batch(model_id, len(batch))
        if isinstance(outcome, BaseException):
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(outcome)
            return
        for (_, future, _), result in zip(batch, outcome, strict=True):
            if not future.done():
                future.set_result(result)
