"""Prometheus metrics of one model server, in its own registry (tests start several servers per process)."""

from __future__ import annotations

import psutil
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Latency buckets around the post's 100 ms budget, fine at the low end where a tiny model answers.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "stowage_requests",
            "Prediction requests by model and HTTP status",
            ["model", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "stowage_request_latency_seconds",
            "Prediction latency inside the server",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "stowage_batch_size",
            "Requests per forward pass",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32),
            registry=self.registry,
        )
        self.model_memory = Gauge(
            "stowage_model_memory_bytes",
            "Parameter and buffer bytes of each loaded model",
            ["model"],
            registry=self.registry,
        )
        self.loaded = Gauge("stowage_models_loaded", "Models loaded and warmed", registry=self.registry)
        process = psutil.Process()
        rss = Gauge("stowage_process_resident_bytes", "Resident memory of the server", registry=self.registry)
        rss.set_function(lambda: process.memory_info().rss)
