"""Wire types in the camelCase JSON of DESIGN.md, mirroring src/domain/*.ts on the TypeScript side.

Activities take and return plain dicts (the SDK's default JSON converter) and validate them here,
so a malformed payload is rejected on entry with a message that names the field.
"""

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from temporalio.exceptions import ApplicationError

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
            f"invalid {model.__name__}: {problems}", type="InvalidInput", non_retryable=True
        ) from None
