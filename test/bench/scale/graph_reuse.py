"""Graph reuse against a full trace at bert-base size (BertConfig defaults, random weights): a few models
of one architecture through the real traceModel activity, first with reuse (one full trace, the rest
weight swaps), then each sibling again with reuse switched off. Prints each model's trace step, whole
activity and difference against its own eager model.
    python-tracer/.venv/bin/python test/bench/scale/graph_reuse.py [models]
"""

import os
import sys
import tempfile
import time
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from stowage_tracer.activities.trace import TracerActivities
from stowage_tracer.artifacts import ArtifactStore
from stowage_tracer.devices import discover
from stowage_tracer.models.tiny import make_tiny_models

# The default profiling settings: what a full trace pays and a reused profile saves.
PROFILE: dict = {}


def run(acts: TracerActivities, source: Path) -> tuple[float, dict]:
    request = {
        "modelId": source.name,
        "source": str(source),
        "processor": "cpu",
        "options": {"profile": PROFILE},
    }
    started = time.perf_counter()
    result = ActivityEnvironment().run(acts.trace_model, request)
    return time.perf_counter() - started, result


def main(count: int) -> None:
    devices = discover()
    with tempfile.TemporaryDirectory(prefix="stowage-graph-reuse-") as tmp:
        root = Path(tmp)
        sources = make_tiny_models(root / "reuse" / "sources", count, prefix="bert-base", size="bert-base")
        reuse = TracerActivities("cpu", devices, ArtifactStore.from_uri(str(root / "reuse")), root / "w1")
        full = TracerActivities(
            "cpu",
            devices,
            ArtifactStore.from_uri(str(root / "reuse")),
            root / "w2",
            graph_reuse=False,
        )
        rows = []
        for source in sources:
            seconds, result = run(reuse, source)
            rows.append(("reuse on", source.name, seconds, result))
        for source in sources[1:]:
            # Same store, other model ids: the siblings traced again, in full.
            copy = source.parent / f"{source.name}-full"
            os.symlink(source, copy)
            seconds, result = run(full, copy)
            rows.append(("reuse off", source.name, seconds, result))
    print(
        f"graph reuse at bert-base size, {count} models, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'run':<10} {'model':<12} {'how':<14} {'trace step s':>12} {'activity s':>10} {'max diff':>10}")
    for run_name, model, seconds, result in rows:
        how = "weight swap" if result["graph"]["reused"] else "full trace"
        print(
            f"{run_name:<10} {model:<12} {how:<14} {result['traceSeconds']:>12.2f} {seconds:>10.2f} "
            f"{result['outputCheck']['maxAbsDiff']:>10.2e}"
        )
    swaps = [r for r in rows if r[3]["graph"]["reused"]]
    fulls = [r for r in rows if r[0] == "reuse off"]
    if swaps and fulls:
        swap_s = sum(r[3]["traceSeconds"] for r in swaps) / len(swaps)
        full_s = sum(r[3]["traceSeconds"] for r in fulls) / len(fulls)
        print(f"trace step per model: full {full_s:.2f} s, reuse {swap_s:.2f} s ({full_s / swap_s:.1f}x)")
        swap_a = sum(r[2] for r in swaps) / len(swaps)
        full_a = sum(r[2] for r in fulls) / len(fulls)
        print(
            f"whole traceModel per model: full {full_a:.2f} s, reuse {swap_a:.2f} s ({full_a / swap_a:.1f}x)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
