"""The failure types the tracer reports. Non-retryable ones are listed in workflows/tracer-proxy.ts."""

from temporalio.exceptions import ApplicationError


def invalid_input(message: str) -> ApplicationError:
    return ApplicationError(message, type="InvalidInput", non_retryable=True)


def model_not_found(message: str) -> ApplicationError:
    return ApplicationError(message, type="ModelNotFound", non_retryable=True)


def unsupported_model(message: str) -> ApplicationError:
    return ApplicationError(message, type="UnsupportedModel", non_retryable=True)


def output_mismatch(message: str) -> ApplicationError:
    return ApplicationError(message, type="OutputMismatch", non_retryable=True)


def trace_failed(message: str) -> ApplicationError:
    # A compiler that rejects a graph rejects it again: retrying only burns an accelerator host.
    return ApplicationError(message, type="TraceFailed", non_retryable=True)


def profile_failed(message: str) -> ApplicationError:
    return ApplicationError(message, type="ProfileFailed", non_retryable=True)
