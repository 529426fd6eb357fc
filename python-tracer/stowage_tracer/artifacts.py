"""The artifact store (docs/artifacts.md): a local folder by default, `s3://bucket/prefix` in production.

Keys follow the same rules as src/artifacts/keys.ts, because they come from workflow inputs and end up as
file paths or S3 keys. Bad keys are the caller's fault (non-retryable); I/O errors are the world's (retryable).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from temporalio.exceptions import ApplicationError

from . import failures

DEFAULT_ROOT = ".stowage/artifacts"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class InvalidArtifactKeyError(ApplicationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, type=failures.INVALID_ARTIFACT_KEY, non_retryable=True)


class ArtifactIOError(ApplicationError):
    """Disk or S3 trouble: worth another attempt (the activity's retry policy decides how many)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type=failures.ARTIFACT_IO, non_retryable=False)


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > 1024:
        raise InvalidArtifactKeyError("artifact key must be a non-empty string of at most 1024 characters")
    for segment in key.split("/"):
        if segment in (".", "..") or not _SEGMENT.match(segment):
            raise InvalidArtifactKeyError(
                f"artifact key {key!r} has an invalid segment {segment!r}: segments are letters, digits, "
                "'.', '_' or '-', start with a letter or digit, and never climb out of the root"
            )
    return key


def model_key(model_id: str, processor: str, trace_key: str, file: str | None = None) -> str:
    prefix = f"models/{model_id}/{processor}/{trace_key}"
    return check_key(f"{prefix}/{file}" if file else prefix)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ArtifactStore:
    """Common interface; `from_uri` picks the backend from the root's scheme."""

    root: str

    @staticmethod
    def from_uri(root: str | None = None) -> ArtifactStore:
        root = root or os.environ.get("STOWAGE_ARTIFACTS") or DEFAULT_ROOT
        if root.startswith("s3://"):
            parsed = urlparse(root)
            return S3ArtifactStore(parsed.netloc, parsed.path.strip("/"))
        if root.startswith("file://"):
            return LocalArtifactStore(Path(unquote(urlparse(root).path)))
        return LocalArtifactStore(Path(root))

    def uri(self, key: str) -> str:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def read_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def write_bytes(self, key: str, data: bytes) -> str:
        raise NotImplementedError

    def write_file(self, key: str, source: Path) -> str:
        return self.write_bytes(key, source.read_bytes())

    def local_dir(self, prefix: str) -> Path:
        """A local directory holding the files under prefix (downloaded into a cache for remote stores)."""
        raise NotImplementedError

    def key_of(self, uri: str) -> str:
        """The key of a URI inside this root; a URI outside it is rejected (references must not escape)."""
        base = self.root.rstrip("/") + "/"
        if not uri.startswith(base):
            raise InvalidArtifactKeyError(f"{uri} is outside the artifact root {self.root}")
        return check_key(unquote(uri[len(base) :]))


@dataclass
class LocalArtifactStore(ArtifactStore):
    directory: Path

    def __post_init__(self) -> None:
        self.directory = self.directory.resolve()
        self.root = self.directory.as_uri()

    def path(self, key: str) -> Path:
        return self.directory.joinpath(*check_key(key).split("/"))

    def uri(self, key: str) -> str:
        return self.path(key).as_uri()

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def read_bytes(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as err:
            raise ArtifactIOError(f"reading {path}: {err}") from err

    def write_bytes(self, key: str, data: bytes) -> str:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Rename is atomic on one filesystem: readers never see half a file, a crashed writer leaves none.
            temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            temp.write_bytes(data)
            os.replace(temp, path)
        except OSError as err:
            raise ArtifactIOError(f"writing {path}: {err}") from err
        return path.as_uri()

    def local_dir(self, prefix: str) -> Path:
        return self.path(prefix)

    def is_inside(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.directory)


def s3_endpoint_from_env() -> str | None:
    """The same order as src/artifacts/s3-store.ts, so both workers reach the same S3."""
    for name in ("STOWAGE_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        if os.environ.get(name):
            return os.environ[name]
    return None


class ArtifactChecksumError(ApplicationError):
    """The bytes read are not the bytes written: another attempt may read a good copy."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type=failures.ARTIFACT_CHECKSUM, non_retryable=False)


# Object metadata holding the whole object's SHA-256 (hex), written by both workers: a multipart
# object's own S3 checksum only covers its parts.
_SHA256_META = "sha256"


class S3ArtifactStore(ArtifactStore):
    def __init__(
        self, bucket: str, prefix: str, cache: Path | None = None, endpoint_url: str | None = None
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        self.root = f"s3://{bucket}/{prefix}".rstrip("/")
        self.cache = cache or Path(
            os.environ.get("STOWAGE_S3_CACHE", Path(tempfile.gettempdir()) / "stowage-s3")
        )
        endpoint_url = endpoint_url or s3_endpoint_from_env()
        # Loopback S3 servers have no per-bucket host names: path-style addressing with a custom endpoint.
        config = Config(s3={"addressing_style": "path"}) if endpoint_url else None
        self._s3 = boto3.client("s3", endpoint_url=endpoint_url, config=config)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _call(self, what: str, fn, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(what) from err
            if code in ("AccessDenied", "NoSuchBucket", "InvalidBucketName"):
                raise ApplicationError(
                    f"{what}: {code}", type=failures.ARTIFACT_ACCESS, non_retryable=True
                ) from err
            raise ArtifactIOError(f"{what}: {err}") from err
        except BotoCoreError as err:
            raise ArtifactIOError(f"{what}: {err}") from err

    def exists(self, key: str) -> bool:
        try:
            self._call(self.uri(key), self._s3.head_object, Bucket=self.bucket, Key=self._key(key))
            return True
        except FileNotFoundError:
            return False

    def read_bytes(self, key: str) -> bytes:
        body = self._call(self.uri(key), self._s3.get_object, Bucket=self.bucket, Key=self._key(key))
        data = body["Body"].read()
        expected = body.get("Metadata", {}).get(_SHA256_META)
        if expected is not None and expected != sha256_bytes(data):
            raise ArtifactChecksumError(
                f"{self.uri(key)} is corrupt: its SHA-256 is {sha256_bytes(data)}, but it was written as {expected}"
            )
        return data

    def write_bytes(self, key: str, data: bytes) -> str:
        digest = hashlib.sha256(data)
        try:
            present = self._call(self.uri(key), self._s3.head_object, Bucket=self.bucket, Key=self._key(key))
        except FileNotFoundError:
            present = None
        if (
            present is not None
            and present.get("Metadata", {}).get(_SHA256_META) == digest.hexdigest()
            and present.get("ContentLength") == len(data)
        ):
            return self.uri(key)  # content-addressed: the same bytes are already there
        # A single PUT is atomic in S3: readers see the old object or the new one, never a mix. The
        # checksum makes S3 reject a body damaged in transit.
        self._call(
            self.uri(key),
            self._s3.put_object,
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
            Metadata={_SHA256_META: digest.hexdigest()},
        )
        return self.uri(key)

    def local_dir(self, prefix: str) -> Path:
        base = self._key(prefix).rstrip("/") + "/"
        target = self.cache / self.bucket / base
        paginator = self._s3.get_paginator("list_objects_v2")
        pages = self._call(
            self.uri(prefix), lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=base))
        )
        for page in pages:
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(base) :]
                check_key(relative)
                local = target.joinpath(*relative.split("/"))
                if local.exists() and local.stat().st_size == obj["Size"]:
                    continue
                local.parent.mkdir(parents=True, exist_ok=True)
                temp = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
                self._call(self.uri(prefix), self._s3.download_file, self.bucket, obj["Key"], str(temp))
                os.replace(temp, local)
        return target
