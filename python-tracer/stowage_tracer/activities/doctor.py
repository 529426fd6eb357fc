"""The doctor's question to a tracer worker: what do you have?"""

import os
import platform
import socket
import time
from importlib.metadata import version

import psutil
import torch
from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from .. import failures
from ..devices import GIB, HostDevices
from ..wire import Processor, TracerDescribeInput, TracerDescription, parse, tracer_task_queue


class DoctorActivities:
    """Bound to one tracer queue: it answers only for the processor that queue names."""

    def __init__(self, processor: Processor, devices: HostDevices) -> None:
        self.processor = processor
        self.devices = devices

    @activity.defn(name="describeTracer")
    def describe_tracer(self, payload: dict) -> dict:
        request = parse(TracerDescribeInput, payload)
        if request.processor != self.processor:
            raise ApplicationError(
                f"this worker serves {tracer_task_queue(self.processor)}, not {request.processor}",
                type=failures.INVALID_INPUT,
                non_retryable=True,
            )
        memory = psutil.virtual_memory()
        return TracerDescription(
            task_queue=tracer_task_queue(self.processor),
            processor=self.processor,
            pid=os.getpid(),
            hostname=socket.gethostname(),
            python_version=platform.python_version(),
            temporalio_version=version("temporalio"),
            torch_version=torch.__version__,
            transformers_version=version("transformers"),
            cuda_available=self.devices.cuda_available,
            neuron_available=self.devices.neuron_available,
            devices=self.devices.devices_for(self.processor),
            cpu_count=os.cpu_count() or 1,
            free_memory_gi_b=round(memory.available / GIB, 2),
            total_memory_gi_b=round(memory.total / GIB, 2),
            matmul_gflops=self._matmul_gflops(request.benchmark_ms),
        ).to_wire()

    def _matmul_gflops(self, benchmark_ms: int) -> float | None:
        """Float32 matmul throughput, heartbeating so a dead worker is noticed and the attempt retried."""
        if benchmark_ms == 0 or self.processor == "inf":
            return None
        device = "cuda" if self.processor == "gpu" else "cpu"
        n = 512
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        flops, started, last_beat = 0, time.perf_counter(), 0.0
        while (elapsed := time.perf_counter() - started) * 1000 < benchmark_ms:
            torch.mm(a, b)
            flops += 2 * n**3
            if elapsed - last_beat >= 0.5:
                activity.heartbeat({"elapsedMs": round(elapsed * 1000)})
                last_beat = elapsed
                if activity.is_cancelled():
                    raise CancelledError("doctor measurement cancelled")
        if device == "cuda":
            torch.cuda.synchronize()
        return round(flops / (time.perf_counter() - started) / 1e9, 1)
