"""The failure types the tracer worker raises: the Python half of src/domain/failures.ts.

The strings are wire names that workflows, stored histories and clients branch on: a value never changes,
and each one is spelled the same as in src/domain/failures.ts (test/unit/failure-types.test.ts checks).
Which of them a workflow retries is decided there (NO_RETRY.tracer); each raiser also says
so itself with `non_retryable`, so that both sides agree.
"""

INVALID_INPUT = "InvalidInput"
MODEL_NOT_FOUND = "ModelNotFound"
UNSUPPORTED_MODEL = "UnsupportedModel"
TRACE_FAILED = "TraceFailed"
OUTPUT_MISMATCH = "OutputMismatch"
PROFILE_FAILED = "ProfileFailed"
# Network, disk and S3 trouble: another attempt may succeed.
MODEL_DOWNLOAD = "ModelDownload"
ARTIFACT_IO = "ArtifactIO"
ARTIFACT_CHECKSUM = "ArtifactChecksum"
INVALID_ARTIFACT_KEY = "InvalidArtifactKey"
ARTIFACT_ACCESS = "ArtifactAccess"
ARTIFACT_NOT_FOUND = "ArtifactNotFound"

RETRYABLE = frozenset({MODEL_DOWNLOAD, ARTIFACT_IO, ARTIFACT_CHECKSUM})
ALL = frozenset(
    {
        INVALID_INPUT,
        MODEL_NOT_FOUND,
        UNSUPPORTED_MODEL,
        TRACE_FAILED,
        OUTPUT_MISMATCH,
        PROFILE_FAILED,
        MODEL_DOWNLOAD,
        ARTIFACT_IO,
        ARTIFACT_CHECKSUM,
        INVALID_ARTIFACT_KEY,
        ARTIFACT_ACCESS,
        ARTIFACT_NOT_FOUND,
    }
)
NON_RETRYABLE = ALL - RETRYABLE
