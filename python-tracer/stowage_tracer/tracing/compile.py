"""Tracing for one processor: torch.jit.trace on CPU, CUDA + autocast on GPU, torch-neuron(x) on Inferentia."""

from __future__ import annotations

import contextlib
import importlib.util

import torch

from ..wire import Processor, TraceOptions
from .errors import output_mismatch, trace_failed
from .sources import first_line

INPUT_NAMES = ("input_ids", "attention_mask")


class Logits(torch.nn.Module):
    """Positional (input_ids, attention_mask) in, a tuple of tensors out: what TorchScript can trace and the
    model server calls, whatever ModelOutput class the Hugging Face model returns."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        return tuple(self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=False))


def example_inputs(
    tokenizer, options: TraceOptions, batch_size: int | None = None
) -> tuple[torch.Tensor, ...]:
    batch = batch_size or options.batch_size
    encoded = tokenizer(
        [options.example.context] * batch,
        [options.example.question] * batch,
        padding="max_length",
        truncation=True,
        max_length=options.sequence_length,
        return_tensors="pt",
    )
    return tuple(encoded[name] for name in INPUT_NAMES)


def effective_precision(processor: Processor, options: TraceOptions) -> str:
    if options.precision not in ("auto", "amp"):
        return options.precision
    return {"cpu": "fp32", "gpu": "fp16", "inf": "bf16"}[processor]


def tolerance(processor: Processor, options: TraceOptions) -> float:
    if options.tolerance is not None:
        return options.tolerance
    return 1e-4 if effective_precision(processor, options) == "fp32" else 5e-2


def device_of(processor: Processor) -> str:
    return "cuda" if processor == "gpu" else "cpu"


def trace(
    model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], processor: Processor, options: TraceOptions
):
    """The compiled module for the processor. Raises TraceFailed when the compiler rejects the graph."""
    if isinstance(model, torch.jit.ScriptModule) and processor != "inf":
        # Already TorchScript: nothing to trace on CPU or GPU, only to place on the device.
        return model.to(device_of(processor))
    wrapped = model if isinstance(model, torch.jit.ScriptModule) else Logits(model)
    try:
        if processor == "inf":
            return _trace_neuron(wrapped, inputs, options)
        if processor == "gpu":
            return _trace_cuda(wrapped, inputs, options)
        with torch.no_grad(), _cpu_autocast(options):
            return torch.jit.trace(wrapped, inputs, check_trace=False)
    except (RuntimeError, TypeError, ValueError) as err:
        raise trace_failed(f"tracing for {processor} failed: {first_line(err)}") from err


def _cpu_autocast(options: TraceOptions):
    precision = effective_precision("cpu", options)
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    torch._C._jit_set_autocast_mode(False)  # bake the casts into the graph instead of re-deciding at run time
    return torch.autocast("cpu", dtype=dtype)


def _trace_cuda(wrapped: torch.nn.Module, inputs: tuple[torch.Tensor, ...], options: TraceOptions):
    wrapped = wrapped.to("cuda")
    inputs = tuple(t.to("cuda") for t in inputs)
    precision = effective_precision("gpu", options)
    if precision == "fp32":
        with torch.no_grad():
            return torch.jit.trace(wrapped, inputs, check_trace=False)
    # Automatic mixed precision: matmuls in half precision, reductions in fp32, casts recorded in the graph.
    torch._C._jit_set_autocast_mode(False)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.no_grad(), torch.autocast("cuda", dtype=dtype):
        return torch.jit.trace(wrapped, inputs, check_trace=False)


def neuron_sdk() -> str | None:
    for name in ("torch_neuronx", "torch_neuron"):
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def _trace_neuron(wrapped: torch.nn.Module, inputs: tuple[torch.Tensor, ...], options: TraceOptions):
    sdk = neuron_sdk()
    if sdk is None:
        raise trace_failed("neither torch_neuronx nor torch_neuron is importable on this host")
    precision = effective_precision("inf", options)
    if sdk == "torch_neuronx":  # Inf2/Trn1
        import torch_neuronx

        args = ["--auto-cast", "none"] if precision == "fp32" else ["--auto-cast", "matmult"]
        if precision in ("bf16", "fp16"):
            args += ["--auto-cast-type", precision]
        # Weights stay outside the NEFF so graph reuse can replace them (tracing/graphs.py).
        return torch_neuronx.trace(wrapped, inputs, compiler_args=args, inline_weights_to_neff=False)
    import torch_neuron  # noqa: F401  (registers torch.neuron) Inf1, as in the post

    # neuron-cc auto-casts fp32 matmuls to bf16 by default; fp32 asks it not to.
    args = ["--neuroncore-pipeline-cores", str(options.pipeline_cores)]
    if precision == "fp32":
        args += ["--fast-math", "none"]
    return torch.neuron.trace(wrapped, example_inputs=list(inputs), compiler_args=args)


def run(module, inputs: tuple[torch.Tensor, ...], processor: Processor) -> list[torch.Tensor]:
    device = device_of(processor)
    with torch.inference_mode():
        out = module(*(t.to(device) for t in inputs))
    if isinstance(out, torch.Tensor):
        out = (out,)
    elif hasattr(out, "to_tuple"):
        out = out.to_tuple()
    return [t.detach().float().cpu() for t in out if isinstance(t, torch.Tensor)]


def check_outputs(eager: list[torch.Tensor], traced: list[torch.Tensor], limit: float) -> float:
    """Largest difference relative to max(1, |eager|); raises OutputMismatch beyond the limit."""
    if len(eager) != len(traced) or any(a.shape != b.shape for a, b in zip(eager, traced, strict=True)):
        raise output_mismatch(
            f"traced outputs have shapes {[list(t.shape) for t in traced]}, eager {[list(t.shape) for t in eager]}"
        )
    worst = 0.0
    for a, b in zip(eager, traced, strict=True):
        scale = torch.clamp(a.abs(), min=1.0)
        worst = max(worst, float(((a - b).abs() / scale).max()))
    if worst > limit:
        raise output_mismatch(f"traced outputs differ from eager by {worst:.3g} (tolerance {limit:.3g})")
    return worst
