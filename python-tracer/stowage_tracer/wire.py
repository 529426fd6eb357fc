"""Wire types in the camelCase JSON of docs/contracts.md, mirroring src/domain/*.ts on the TypeScript side.

Activities take and return plain dicts (the SDK's default JSON converter) and validate them here,
so a malformed payload is rejected on entry with a message that names the field.
"""

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.alias_generators import to_camel
from temporalio.exceptions import ApplicationError

from . import failures

Processor = Literal["cpu", "gpu", "inf"]
PROCESSORS: tuple[Processor, ...] = ("cpu", "gpu", "inf")


def tracer_task_queue(processor: Processor) -> str:
    return f"stowage-tracer-{processor}"


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def to_wire(self) -> dict:
        return self.model_dump(by_alias=True, mode="json")


class TracerDescribeInput(Wire):
    processor: Processor
    benchmark_ms: int = Field(default=1000, ge=0, le=60_000)


class DeviceDescription(Wire):
    index: int
    name: str
    memory_gi_b: float = Field(alias="memoryGiB")


class TracerDescription(Wire):
    task_queue: str
    language: Literal["python"] = "python"
    processor: Processor
    pid: int
    hostname: str
    python_version: str
    temporalio_version: str
    torch_version: str
    transformers_version: str
    cuda_available: bool
    neuron_available: bool
    devices: list[DeviceDescription]
    cpu_count: int
    free_memory_gi_b: float = Field(alias="freeMemoryGiB")
    total_memory_gi_b: float = Field(alias="totalMemoryGiB")
    matmul_gflops: float | None


W = TypeVar("W", bound=Wire)


def parse(model: type[W], payload: object) -> W:
    """Validates an activity input; bad input is a non-retryable failure that names every bad field."""
    try:
        return model.model_validate(payload)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(input)'}: {e['msg']}" for e in err.errors()
        )
        raise ApplicationError(
            f"invalid {model.__name__}: {problems}", type=failures.INVALID_INPUT, non_retryable=True
        ) from None


# --- tracing and profiling (activities traceModel / profileModel; src/domain/tracing.ts) ---

# The same rule as src/domain/ids.ts: ids become artifact keys, file paths and Kubernetes names.
ModelId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]

# The same rule as src/domain/ids.ts `unsafeCharacter`: text that names something (a source) holds no
# control characters, bidi controls, line separators or lone surrogates; the problem names the code point
# and its position (counted in characters from 1), never the character itself.
SAFE_TEXT_RULE = "no control characters, bidi controls, line separators or lone surrogates"
_BIDI = {
    0x061C: "ARABIC LETTER MARK",
    0x200E: "LEFT-TO-RIGHT MARK",
    0x200F: "RIGHT-TO-LEFT MARK",
    0x202A: "LEFT-TO-RIGHT EMBEDDING",
    0x202B: "RIGHT-TO-LEFT EMBEDDING",
    0x202C: "POP DIRECTIONAL FORMATTING",
    0x202D: "LEFT-TO-RIGHT OVERRIDE",
    0x202E: "RIGHT-TO-LEFT OVERRIDE",
    0x2066: "LEFT-TO-RIGHT ISOLATE",
    0x2067: "RIGHT-TO-LEFT ISOLATE",
    0x2068: "FIRST STRONG ISOLATE",
    0x2069: "POP DIRECTIONAL ISOLATE",
}


def _kind(code_point: int) -> str | None:
    if code_point <= 0x1F or 0x7F <= code_point <= 0x9F:
        return "a control character"
    if code_point in (0x2028, 0x2029):
        return "a line separator"
    if code_point in _BIDI:
        return f"a bidi control ({_BIDI[code_point]})"
    if 0xD800 <= code_point <= 0xDFFF:
        return "a lone surrogate"
    return None


def unsafe_character(text: str) -> str | None:
    found = [(i, ord(c), kind) for i, c in enumerate(text, start=1) if (kind := _kind(ord(c)))]
    if not found:
        return None
    position, code_point, kind = found[0]
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return f"U+{code_point:04X} ({kind}) at character {position}{more}: must hold {SAFE_TEXT_RULE}"


def _safe_text(value: object) -> object:
    # Before pydantic's own str check, which cannot even read a lone surrogate and says so less clearly.
    if isinstance(value, str) and (problem := unsafe_character(value)):
        raise ValueError(problem)
    return value


SafeText = Annotated[str, BeforeValidator(_safe_text)]

# "amp" (the pipeline's name) is the same as "auto": each processor's mixed-precision policy.
Precision = Literal["auto", "amp", "fp32", "fp16", "bf16"]
Task = Literal["question-answering", "sequence-classification"]

# The post's sample pair: the example inputs every trace is built from unless the caller gives its own.
DEFAULT_CONTEXT = "HuggingFace is based in New York City"
DEFAULT_QUESTION = "Where is HuggingFace based?"


class ExampleInputs(Wire):
    """The recipe for example inputs: a text pair run through the model's own tokenizer."""

    context: str = Field(default=DEFAULT_CONTEXT, min_length=1, max_length=10_000)
    question: str = Field(default=DEFAULT_QUESTION, min_length=1, max_length=10_000)


class ProfileOptions(Wire):
    batch_sizes: list[Annotated[int, Field(ge=1, le=1024)]] = Field(default_factory=list, max_length=16)
    warmup: int = Field(default=3, ge=0, le=1000)
    iterations: int = Field(default=30, ge=1, le=100_000)
    # Rounds of `iterations` repeat until three agree (profile.STABLE_SPREAD), within these bounds.
    max_rounds: int = Field(default=10, ge=1, le=1000)
    max_seconds: float = Field(default=15.0, gt=0, le=3600)
    expected_requests_per_second: float = Field(default=1.0, ge=0)


class TraceOptions(Wire):
    task: Task = "question-answering"
    batch_size: int = Field(default=1, ge=1, le=1024)
    sequence_length: int = Field(default=128, ge=1, le=8192)
    # Inferentia: NeuronCores one model is pipelined across (the post's --neuroncore-pipeline-cores).
    pipeline_cores: int = Field(default=1, ge=1, le=64)
    # auto: bf16 auto-cast on Inferentia, fp16 autocast on GPU, fp32 on CPU.
    precision: Precision = "auto"
    # Largest |traced - eager| accepted, relative to max(1, |eager|); None = by precision.
    tolerance: float | None = Field(default=None, gt=0, le=1)
    example: ExampleInputs = Field(default_factory=ExampleInputs)
    profile: ProfileOptions = Field(default_factory=ProfileOptions)


class TraceModelInput(Wire):
    model_id: ModelId
    # A Hugging Face name, a local folder (inside the artifact root or STOWAGE_MODEL_ROOTS) or s3:// folder
    # in Hugging Face layout, or a TorchScript file (.pt) with a tokenizer/ folder beside it.
    source: SafeText = Field(min_length=1, max_length=2048)
    processor: Processor
    options: TraceOptions = Field(default_factory=TraceOptions)


class ArtifactRef(Wire):
    model_id: str
    processor: Processor
    trace_key: str
    prefix: str
    model_uri: str
    manifest_uri: str
    profile_uri: str


class OutputCheck(Wire):
    max_abs_diff: float
    tolerance: float
    passed: bool


class TraceModelResult(Wire):
    artifact: ArtifactRef
    cached: bool
    attempt: int
    resumed_from: str | None
    trace_seconds: float | None
    output_check: OutputCheck | None
    demand: dict
    # Graph reuse: the architecture's graph key, whether this model's weights went into a representative's
    # graph (and whose), or why it was traced in full. None for sources without an architecture config.
    graph: dict | None = None


class ProfileModelInput(Wire):
    model_id: ModelId
    processor: Processor
    trace_key: Annotated[str, StringConstraints(pattern=r"^[a-f0-9]{8,64}$")]
    profile: ProfileOptions = Field(default_factory=ProfileOptions)


class ProfileModelResult(Wire):
    artifact: ArtifactRef
    profile: dict
