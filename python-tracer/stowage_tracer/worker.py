"""The tracer worker: one Temporal worker per tracer queue this host may serve."""

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.worker import Worker

from . import logs
from .activities.doctor import DoctorActivities
from .activities.trace import TracerActivities
from .artifacts import ArtifactStore
from .connection import TemporalSettings
from .devices import HostDevices
from .wire import Processor, tracer_task_queue

log = logging.getLogger("stowage.tracer")


class RefusedQueueError(Exception):
    """Asked to serve a processor this host does not have: tracing elsewhere would be silently wrong."""


def choose_processors(requested: list[Processor] | None, devices: HostDevices) -> list[Processor]:
    if requested is None:
        return devices.serves()
    for processor in requested:
        reason = devices.refusal(processor)
        if reason:
            raise RefusedQueueError(f"refusing to serve {tracer_task_queue(processor)}: {reason}")
    return requested


async def run_worker(
    settings: TemporalSettings,
    processors: list[Processor],
    devices: HostDevices,
    concurrency: int,
    exit_with_parent: bool,
) -> None:
    client = await settings.connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if exit_with_parent:
        watchdog = asyncio.create_task(_watch_parent(os.getppid(), stop))

    store = ArtifactStore.from_uri()  # STOWAGE_ARTIFACTS, else .stowage/artifacts
    with ThreadPoolExecutor(max_workers=concurrency * len(processors)) as executor:
        workers = [
            Worker(
                client,
                task_queue=tracer_task_queue(processor),
                activities=_activities(processor, devices, store),
                activity_executor=executor,
                # A trace can use every core, so by default one runs at a time per queue.
                max_concurrent_activities=concurrency,
                graceful_shutdown_timeout=timedelta(seconds=10),
                # Heartbeat details are the resume point of a retried trace: send them within seconds, not
                # at 0.8 x the heartbeat timeout, so a killed worker loses at most a step's worth of progress.
                max_heartbeat_throttle_interval=timedelta(seconds=2),
            )
            for processor in processors
        ]
        runs = [asyncio.create_task(w.run()) for w in workers]
        logs.event(
            log,
            "worker_ready",
            taskQueues=[tracer_task_queue(p) for p in processors],
            address=settings.address,
            namespace=settings.namespace,
            concurrency=concurrency,
            artifacts=store.root,
        )
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *runs], return_when=asyncio.FIRST_COMPLETED)
        logs.event(log, "worker_stopping")
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        for task in runs:
            if task in done and task.exception():
                raise task.exception()  # type: ignore[misc]
    if exit_with_parent:
        watchdog.cancel()
    logs.event(log, "worker_stopped")


def _activities(processor: Processor, devices: HostDevices, store: ArtifactStore) -> list:
    tracer = TracerActivities(
        processor, devices, store, graph_reuse=os.environ.get("STOWAGE_GRAPH_REUSE", "1") != "0"
    )
    return [DoctorActivities(processor, devices).describe_tracer, tracer.trace_model, tracer.profile_model]


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Ends the worker when `stowage dev` dies without stopping it, so no orphan keeps polling."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            logs.event(log, "parent_gone", parentPid=parent_pid)
            stop.set()
            return
        await asyncio.sleep(1)
