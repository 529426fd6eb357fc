"""The failures the tracer reports; their type names live in failures.py, the retry policy in src/domain/failures.ts."""

from temporalio.exceptions import ApplicationError

from .. import failures


def invalid_input(message: str) -> ApplicationError:
    return ApplicationError(message, type=failures.INVALID_INPUT, non_retryable=True)


def model_not_found(message: str) -> ApplicationError:
    return ApplicationError(message, type=failures.MODEL_NOT_FOUND, non_retryable=True)


def unsupported_model(message: str) -> ApplicationError:
    return ApplicationError(message, type=failures.UNSUPPORTED_MODEL, non_retryable=True)


def output_mismatch(message: str) -> ApplicationError:
    return ApplicationError(message, type=failures.OUTPUT_MISMATCH, non_retryable=True)


def trace_failed(message: str) -> ApplicationError:
    # A compiler that rejects a graph rejects it again: retrying only burns an accelerator host.
    return ApplicationError(message, type=failures.TRACE_FAILED, non_retryable=True)


def profile_failed(message: str) -> ApplicationError:
    return ApplicationError(message, type=failures.PROFILE_FAILED, non_retryable=True)
