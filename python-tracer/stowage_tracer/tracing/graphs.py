"""Graph reuse: thousands of fine-tunes share one architecture, so one representative per (architecture
config, processor, trace options) is traced and every other model of that architecture gets its own weights
copied into the representative's graph, then is checked against its own eager model on a few inputs.

A TorchScript trace keeps parameters as module attributes, so copying a state_dict into a loaded trace
gives the same graph with other weights. torch-neuronx can do the same when the representative was
compiled without weights inlined into the NEFF (`inline_weights_to_neff=False`, then `replace_weights`);
torch-neuron (Inf1) always inlines them, so there every model is traced in full.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torch

from ..wire import Processor, TraceOptions
from . import compile as compiling

# Keys of config.json that name or date the checkpoint without changing the graph.
CONFIG_NOISE = {"_name_or_path", "transformers_version", "_commit_hash"}
# Inputs each reused graph is checked on: the trace's example and random token sequences of its shape.
CHECK_INPUTS = 3
# Loaded representatives kept in memory: a bert-base graph is 440 MB.
CACHED_GRAPHS = 2

INF1_NOTE = "torch-neuron (Inf1) compiles weights into the NEFF: every model is traced in full"
SWITCHED_OFF_NOTE = "graph reuse is switched off on this worker (STOWAGE_GRAPH_REUSE=0): traced in full"


def reuse_unavailable(processor: Processor) -> str | None:
    """Why graph reuse cannot work on this processor's toolchain, or None when it can."""
    if processor == "inf" and compiling.neuron_sdk() == "torch_neuron":
        return INF1_NOTE
    return None


def graph_key(config_file: Path, processor: Processor, options: TraceOptions, toolchain: dict) -> str:
    """What makes two models' traced graphs interchangeable: the architecture config (less the fields that
    only name the checkpoint), the processor, the trace options and the tracing toolchain."""
    config = {k: v for k, v in json.loads(config_file.read_text()).items() if k not in CONFIG_NOISE}
    recipe = {
        "config": config,
        "processor": processor,
        "options": options.model_dump(mode="json", by_alias=True, exclude={"profile"}),
        **toolchain,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:20]


class WeightsDoNotFitError(Exception):
    """The model's weights cannot be placed in the graph (names or shapes differ)."""


def swap_weights(graph: torch.jit.ScriptModule, model: torch.nn.Module, processor: Processor):
    """The graph with `model`'s weights. Every tensor the graph holds must come from the model and every
    parameter of the model must land in the graph, else WeightsDoNotFitError."""
    wrapped = compiling.Logits(model)
    own = dict(wrapped.named_parameters(remove_duplicate=False))
    own.update(wrapped.named_buffers(remove_duplicate=False))
    held = dict(graph.named_parameters(remove_duplicate=False))
    held.update(graph.named_buffers(remove_duplicate=False))
    missing = sorted(set(own) - set(held))
    extra = sorted(set(held) - set(own))
    if missing or extra:
        raise WeightsDoNotFitError(
            f"graph and model hold different tensors (model only: {missing[:3]}, graph only: {extra[:3]})"
        )
    bad = [n for n, t in held.items() if t.shape != own[n].shape]
    if bad:
        raise WeightsDoNotFitError(
            f"{len(bad)} tensor(s) differ in shape, e.g. {bad[0]}: "
            f"graph {list(held[bad[0]].shape)}, model {list(own[bad[0]].shape)}"
        )
    if processor == "inf":
        import torch_neuronx

        torch_neuronx.replace_weights(graph, {n: t.detach() for n, t in own.items()})
        return graph
    with torch.no_grad():
        for name, tensor in held.items():
            tensor.copy_(own[name].to(tensor.device, tensor.dtype))
    return graph


def check_inputs(example: tuple[torch.Tensor, ...], vocab_size: int, seed: int = 0) -> list[tuple]:
    """The example the graph was traced with, plus random sequences of the same shape: one example alone
    could agree by accident where a weight was left behind."""
    generator = torch.Generator().manual_seed(seed)
    ids, mask = example
    batches = [example]
    for _ in range(CHECK_INPUTS - 1):
        random_ids = torch.randint(0, vocab_size, ids.shape, generator=generator, dtype=ids.dtype)
        lengths = torch.randint(1, ids.shape[1] + 1, (ids.shape[0], 1), generator=generator)
        random_mask = (torch.arange(ids.shape[1]).unsqueeze(0) < lengths).to(mask.dtype)
        batches.append((random_ids, random_mask))
    return batches


def verify(model: torch.nn.Module, graph, inputs: list[tuple], processor: Processor, limit: float) -> float:
    """The largest relative difference between the graph and the model's eager outputs over `inputs`;
    raises OutputMismatch beyond `limit`. The inputs go as one batch where the graph takes any batch size
    (a CPU or GPU trace of BERT does): one forward pass each instead of one per input."""
    if processor != "inf":
        stacked = tuple(torch.cat(parts) for parts in zip(*inputs, strict=True))
        eager = compiling.run(model, stacked, "cpu")
        try:
            traced = compiling.run(graph, stacked, processor)
        except RuntimeError:
            traced = None  # a trace fixed to its batch size: one input at a time below
        if traced is not None:
            return compiling.check_outputs(eager, traced, limit)
    worst = 0.0
    for batch in inputs:
        eager = compiling.run(model, batch, "cpu")
        worst = max(worst, compiling.check_outputs(eager, compiling.run(graph, batch, processor), limit))
    return worst


class GraphCache:
    """The last few representatives loaded, by graph key: a swap then costs a copy, not a load."""

    def __init__(self, size: int = CACHED_GRAPHS) -> None:
        self.size = size
        self._graphs: OrderedDict[str, torch.jit.ScriptModule] = OrderedDict()

    def get(self, key: str, model_file: Callable[[], Path], processor: Processor):
        graph = self._graphs.pop(key, None)
        if graph is None:
            if processor == "inf":
                __import__(compiling.neuron_sdk() or "torch_neuronx")
            graph = torch.jit.load(str(model_file()), map_location=compiling.device_of(processor)).eval()
        self._graphs[key] = graph
        while len(self._graphs) > self.size:
            self._graphs.popitem(last=False)
        return graph

    def __contains__(self, key: str) -> bool:
        return key in self._graphs

    def forget(self, key: str) -> None:
        self._graphs.pop(key, None)
