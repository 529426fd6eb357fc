"""Where a model comes from, what identifies it, and how it is loaded eagerly with its tokenizer."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import torch
from temporalio.exceptions import ApplicationError

from ..artifacts import ArtifactStore, LocalArtifactStore, S3ArtifactStore
from .errors import invalid_input, model_not_found, unsupported_model

TASK_CLASSES = {
    "question-answering": "AutoModelForQuestionAnswering",
    "sequence-classification": "AutoModelForSequenceClassification",
}


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "folder" (Hugging Face layout), "torchscript" or "hub"
    location: str  # a local path, or a hub name
    identity: str  # content hash of the files (or the hub name and revision)

    @property
    def tokenizer_dir(self) -> str:
        return str(Path(self.location).parent / "tokenizer") if self.kind == "torchscript" else self.location


def allowed_roots(store: ArtifactStore) -> list[Path]:
    """Local sources must live under the artifact root or a configured model root, never anywhere on disk."""
    roots = [Path(p).resolve() for p in os.environ.get("STOWAGE_MODEL_ROOTS", "").split(os.pathsep) if p]
    if isinstance(store, LocalArtifactStore):
        roots.append(store.directory)
    return roots


def resolve(source: str, store: ArtifactStore) -> ModelSource:
    if source.startswith("s3://"):
        parsed = urlparse(source)
        local = S3ArtifactStore(parsed.netloc, "").local_dir(parsed.path.strip("/"))
        return _local(local, source)
    looks_local = source.startswith(("file://", "/", ".")) or (os.sep in source and Path(source).exists())
    if not looks_local:
        if source.count("/") > 1 or ".." in source:
            raise invalid_input(f"source {source!r} is neither a path, an s3:// URI nor a Hugging Face name")
        return _local(_download(source), source)
    path = Path(unquote(urlparse(source).path) if source.startswith("file://") else source).resolve()
    roots = allowed_roots(store)
    if not any(path.is_relative_to(root) for root in roots):
        raise invalid_input(
            f"source {source!r} is outside the artifact root and STOWAGE_MODEL_ROOTS "
            f"({', '.join(str(r) for r in roots) or 'none configured'})"
        )
    return _local(path, source)


def _download(name: str) -> Path:
    """A hub model's files in the local cache; its identity is then the hash of what was downloaded."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return Path(snapshot_download(name))
    except (RepositoryNotFoundError, RevisionNotFoundError, GatedRepoError) as err:
        raise model_not_found(f"Hugging Face model {name!r}: {first_line(err)}") from err
    except Exception as err:  # network and disk trouble: another attempt may succeed
        raise ApplicationError(
            f"downloading {name!r}: {first_line(err)}", type="ModelDownload", non_retryable=False
        ) from err


def _local(path: Path, source: str) -> ModelSource:
    if not path.exists():
        raise model_not_found(f"source {source!r}: {path} does not exist")
    if path.is_file():
        if path.suffix not in (".pt", ".pth", ".ts"):
            raise invalid_input(f"source {source!r} is a file but not TorchScript (.pt)")
        return ModelSource("torchscript", str(path), hash_files([path], path.parent))
    if not (path / "config.json").exists():
        raise model_not_found(f"source {source!r}: {path} has no config.json (not a Hugging Face folder)")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return ModelSource("folder", str(path), hash_files(files, path))


def hash_files(files: list[Path], base: Path) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(base)).encode() + b"\0")
        with file.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def load_tokenizer(source: ModelSource):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source.tokenizer_dir)
    except (OSError, ValueError) as err:
        raise model_not_found(f"no usable tokenizer for {source.location}: {first_line(err)}") from err


def load_eager(source: ModelSource, task: str) -> torch.nn.Module:
    """The model in eval mode; for a TorchScript source, the scripted module itself."""
    if source.kind == "torchscript":
        try:
            return torch.jit.load(source.location, map_location="cpu").eval()
        except RuntimeError as err:
            raise unsupported_model(
                f"{source.location} is not loadable TorchScript: {first_line(err)}"
            ) from err
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(source.location)
    except ValueError as err:  # an unknown model_type
        raise unsupported_model(f"{source.location}: {first_line(err)}") from err
    except OSError as err:
        raise model_not_found(f"{source.location}: {first_line(err)}") from err
    architectures = getattr(config, "architectures", None) or []
    if architectures:
        name = architectures[0]
        model_class = getattr(transformers, name, None)
        if model_class is None or not isinstance(model_class, type):
            raise unsupported_model(f"{source.location}: unknown model class {name!r} in config.json")
        if not _suits(name, task):
            raise unsupported_model(f"{source.location}: {name} is not a {task} model")
    else:
        model_class = getattr(transformers, TASK_CLASSES[task])
    try:
        return model_class.from_pretrained(source.location, config=config).eval()
    except OSError as err:
        raise model_not_found(f"{source.location}: {first_line(err)}") from err


def _suits(class_name: str, task: str) -> bool:
    suffix = {
        "question-answering": "ForQuestionAnswering",
        "sequence-classification": "ForSequenceClassification",
    }
    return class_name.endswith(suffix[task])


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
