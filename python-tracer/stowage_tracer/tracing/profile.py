"""Measuring a traced model on its processor: what the packer needs to place it (the packing contract, docs/contracts.md)."""

from __future__ import annotations

import gc
import glob
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import torch

from ..devices import GIB
from ..wire import Processor, ProfileOptions
from . import compile as compiling
from .errors import profile_failed

UNITS = {
    "loadSeconds": "s",
    "memory.*Bytes": "bytes",
    "latency[].p50Ms|p90Ms|p99Ms|meanMs": "ms",
    "latency[].throughputPerSecond": "inferences/s (batch size x batches/s)",
    "latency[].spreadPct": "% (max - min) / median of the last 3 round means",
    "latency[].cpuShare": "CPU time / wall time of the timing thread (1: it had a core to itself)",
    "throughput.sustainablePerSecond": "inferences/s on one device",
    "demand.memoryGiB|hostMemoryGiB": "GiB (2^30 bytes)",
    "demand.compute": "share of one device's sustainable throughput at expectedRequestsPerSecond",
    "demand.expectedRequestsPerSecond": "requests/s",
    "demand.forwardMs": "ms per batch-1 forward pass, the model's own share of a served request",
}


# A timing is stable when the last STABLE_ROUNDS round means agree within STABLE_SPREAD of their median:
# one round alone hides a neighbour's burst, three agreeing rounds rarely do.
STABLE_ROUNDS = 3
STABLE_SPREAD = 0.05
# Below this share of a core, the timing thread was waiting for the CPU: the figure measures the machine's
# other work as much as the model, and is marked contended.
CONTENDED_CPU_SHARE = 0.8


def trusted(profile: dict) -> bool:
    """A profile whose timings settled on a machine that let them run; older profiles did not say."""
    measurement = profile.get("measurement")
    return bool(measurement) and measurement["stable"] and not measurement["contended"]


def load(model_file: Path, processor: Processor):
    if processor == "inf":
        sdk = compiling.neuron_sdk()
        if sdk:
            __import__(sdk)  # registers the Neuron ops the compiled TorchScript refers to
    return torch.jit.load(str(model_file), map_location=compiling.device_of(processor)).eval()


def measure(
    model_file: Path,
    processor: Processor,
    inputs_for: Callable[[int], tuple[torch.Tensor, ...]],
    traced_batch: int,
    options: ProfileOptions,
    beat: Callable[[dict], None],
) -> dict:
    """Loads the artifact afresh and times it. `beat` heartbeats and raises if the activity was cancelled."""
    gc.collect()
    process = psutil.Process()
    rss_before = process.memory_info().rss
    device_before = _device_bytes(processor)
    if processor == "gpu":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    try:
        module = load(model_file, processor)
    except RuntimeError as err:
        raise profile_failed(
            f"{model_file} does not load on {processor}: {str(err).splitlines()[0]}"
        ) from err
    load_seconds = time.perf_counter() - started

    batch_sizes = sorted({1, traced_batch, *options.batch_sizes})
    latency = []
    for batch in batch_sizes:
        beat({"step": "profile", "batchSize": batch})
        latency.append(_time_batch(module, inputs_for(batch), processor, batch, options, beat))
    ok = [row for row in latency if "error" not in row]
    if not ok:
        raise profile_failed(
            f"the traced model ran at none of the batch sizes {batch_sizes}: {latency[0]['error']}"
        )
    best = max(ok, key=lambda row: row["throughputPerSecond"])
    load_average = os.getloadavg()[0]

    rss_delta = max(0, process.memory_info().rss - rss_before)
    weights = parameter_bytes(module)
    memory = {
        "parameterBytes": weights,
        "hostRssDeltaBytes": rss_delta,
        # The allocator may reuse freed pages, so the RSS delta can undercount: weights are a floor.
        "hostResidentBytes": max(rss_delta, weights) if processor == "cpu" else rss_delta,
    }
    if processor == "gpu":
        torch.cuda.synchronize()
        memory.update(
            method="cuda-allocator",
            deviceResidentBytes=torch.cuda.memory_allocated() - device_before,
            devicePeakBytes=torch.cuda.max_memory_allocated() - device_before,
            deviceReservedBytes=torch.cuda.memory_reserved(),
        )
    elif processor == "inf":
        measured = _device_bytes("inf") - device_before
        memory.update(
            method="neuron-runtime-sysfs" if measured > 0 else "model-file-size",
            deviceResidentBytes=measured if measured > 0 else model_file.stat().st_size,
        )
        memory["devicePeakBytes"] = memory["deviceResidentBytes"]
    else:
        memory.update(method="process-rss-delta", deviceResidentBytes=memory["hostResidentBytes"])
        memory["devicePeakBytes"] = memory["deviceResidentBytes"]
    del module
    return {
        "loadSeconds": round(load_seconds, 4),
        "memory": memory,
        "latency": latency,
        "throughput": {"sustainablePerSecond": best["throughputPerSecond"], "atBatchSize": best["batchSize"]},
        "threads": torch.get_num_threads() if processor == "cpu" else None,
        "measurement": _measurement(ok, load_average),
    }


def parameter_bytes(module: torch.nn.Module) -> int:
    """Bytes of the weights and buffers a module holds: the floor of its resident memory."""
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def _measurement(rows: list[dict], load_average: float) -> dict:
    """How far the timings can be trusted: stable rounds, and whether the machine let them run."""
    cpu_share = min(row["cpuShare"] for row in rows)
    spreads = [row["spreadPct"] for row in rows if row["spreadPct"] is not None]
    cpus = os.cpu_count() or 1
    contended = cpu_share < CONTENDED_CPU_SHARE
    return {
        "stable": all(row["stable"] for row in rows),
        "spreadPct": max(spreads) if spreads else None,
        "cpuShare": cpu_share,
        "loadAverage": round(load_average, 2),
        "cpus": cpus,
        "contended": contended,
        **(
            {"note": f"timed with {cpu_share:.0%} of a core (load average {load_average:.1f} on {cpus} CPUs)"}
            if contended
            else {}
        ),
    }


def demand(profile: dict, processor: Processor, expected_rps: float) -> dict:
    """The packer's per-model demand: resident memory, and the share of one device the traffic needs."""
    memory = profile["memory"]
    sustainable = profile["throughput"]["sustainablePerSecond"]
    batch_one = next((row for row in profile["latency"] if row["batchSize"] == 1 and "meanMs" in row), None)
    return {
        "processor": processor,
        "expectedRequestsPerSecond": expected_rps,
        "memoryGiB": round(memory["devicePeakBytes"] / GIB, 6),
        "compute": round(expected_rps / sustainable, 6) if sustainable > 0 else None,
        "hostMemoryGiB": round(memory["hostResidentBytes"] / GIB, 6),
        "forwardMs": batch_one["meanMs"] if batch_one else None,
        "measurement": profile.get("measurement"),
    }


def _time_batch(module, inputs, processor: Processor, batch: int, options: ProfileOptions, beat) -> dict:
    """Times rounds of `options.iterations` passes until the last STABLE_ROUNDS round means agree, or
    `max_rounds` / `max_seconds` run out; the figures come from those last rounds."""
    device = compiling.device_of(processor)
    inputs = tuple(t.to(device) for t in inputs)
    sync = torch.cuda.synchronize if processor == "gpu" else (lambda: None)
    rounds: list[list[float]] = []
    started = time.monotonic()
    cpu_started, wall_started = time.thread_time(), time.perf_counter()
    try:
        with torch.inference_mode():
            for _ in range(options.warmup):
                module(*inputs)
            sync()
            last_beat = time.monotonic()
            cpu_started, wall_started = time.thread_time(), time.perf_counter()
            while True:
                samples = []
                for _ in range(options.iterations):
                    begun = time.perf_counter()
                    module(*inputs)
                    sync()
                    samples.append((time.perf_counter() - begun) * 1000)
                    if time.monotonic() - last_beat > 1:
                        beat({"step": "profile", "batchSize": batch, "round": len(rounds)})
                        last_beat = time.monotonic()
                rounds.append(samples)
                if (
                    _spread(rounds) <= STABLE_SPREAD
                    or len(rounds) >= options.max_rounds
                    or time.monotonic() - started > options.max_seconds
                ):
                    break
    except RuntimeError as err:  # e.g. a Neuron trace is fixed to its traced batch size
        return {"batchSize": batch, "error": str(err).splitlines()[0][:300]}
    cpu_share = (time.thread_time() - cpu_started) / max(1e-9, time.perf_counter() - wall_started)
    window = sorted(t for r in rounds[-STABLE_ROUNDS:] for t in r)
    mean = statistics.fmean(window)
    spread = _spread(rounds)
    return {
        "batchSize": batch,
        "iterations": options.iterations,
        "rounds": len(rounds),
        "p50Ms": round(_pct(window, 50), 4),
        "p90Ms": round(_pct(window, 90), 4),
        "p99Ms": round(_pct(window, 99), 4),
        "meanMs": round(mean, 4),
        "throughputPerSecond": round(batch * 1000 / mean, 2),
        "stable": spread <= STABLE_SPREAD,
        "spreadPct": round(spread * 100, 2) if spread != float("inf") else None,
        # GPU passes wait on the device, not the CPU: their share says nothing about contention.
        "cpuShare": round(min(1.0, cpu_share), 3) if processor != "gpu" else 1.0,
    }


def _spread(rounds: list[list[float]]) -> float:
    """(max - min) / median of the last STABLE_ROUNDS round means; infinite before there are that many."""
    if len(rounds) < STABLE_ROUNDS:
        return float("inf")
    means = [statistics.fmean(r) for r in rounds[-STABLE_ROUNDS:]]
    return (max(means) - min(means)) / statistics.median(means)


def _pct(sorted_samples: list[float], pct: float) -> float:
    index = min(len(sorted_samples) - 1, max(0, round(pct / 100 * len(sorted_samples) + 0.5) - 1))
    return sorted_samples[index]


def _device_bytes(processor: Processor) -> int:
    if processor == "gpu":
        return torch.cuda.memory_allocated()
    if processor == "inf":
        # The Neuron driver's per-core device-memory counters (Neuron driver 2.x sysfs).
        total = 0
        for path in glob.glob(
            "/sys/devices/virtual/neuron_device/neuron*/neuron_core*/stats/memory_usage/device_mem/*/present"
        ):
            try:
                total += int(Path(path).read_text().strip() or 0)
            except (OSError, ValueError):
                continue
        return total
    return 0
