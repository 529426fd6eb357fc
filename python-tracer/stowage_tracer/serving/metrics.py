"""Prometheus metrics of one model server, in its own registry (tests start several servers per process).

The per-request figures (requests, latency, batch sizes) are plain integers and lists updated only on the
event loop's thread, so a request pays no lock; a collector turns them into Prometheus families when
/metrics is scraped. Names and labels are those prometheus_client's Counter and Histogram would give.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

import psutil
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

# Latency buckets around the post's 100 ms budget, fine at the low end where a tiny model answers.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class _Histogram:
    """Cumulative-on-read histogram of one label value: counts per upper bound, +Inf last."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, int]]:
        running, out = 0, []
        for bound, count in zip([*map(float, self.bounds), float("inf")], self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


class _RequestCollector:
    def __init__(self, metrics: ServerMetrics) -> None:
        self._m = metrics

    def collect(self):
        m = self._m
        requests = CounterMetricFamily(
            "stowage_requests", "Prediction requests by model and HTTP status", labels=["model", "status"]
        )
        for (model, status), count in list(m.requests.items()):
            requests.add_metric([model, status], count)
        yield requests
        for name, doc, table in (
            ("stowage_request_latency_seconds", "Prediction latency inside the server", m.latency),
            ("stowage_batch_size", "Requests per forward pass", m.batch_size),
        ):
            family = HistogramMetricFamily(name, doc, labels=["model"])
            for model, hist in list(table.items()):
                family.add_metric([model], hist.buckets(), hist.total)
            yield family


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        #: (model, status) → count. Event loop thread only.
        self.requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.latency: defaultdict[str, _Histogram] = defaultdict(lambda: _Histogram(_LATENCY_BUCKETS))
        self.batch_size: defaultdict[str, _Histogram] = defaultdict(lambda: _Histogram(_BATCH_BUCKETS))
        self.registry.register(_RequestCollector(self))
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

    def answered(self, model: str, status: str, seconds: float | None = None) -> None:
        self.requests[(model, status)] += 1
        if seconds is not None:
            self.latency[model].observe(seconds)

    def batched(self, model: str, size: int) -> None:
        self.batch_size[model].observe(size)
