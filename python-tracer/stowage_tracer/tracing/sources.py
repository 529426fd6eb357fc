"""Where a model comes from, what identifies it, and how it is loaded eagerly with its tokenizer."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import torch
from temporalio.exceptions import ApplicationError

from .. import failures
from ..artifacts import ArtifactStore, LocalArtifactStore, S3ArtifactStore
from .confine import confined_files, inside
from .errors import invalid_input, model_not_found, unsupported_model

SAFETENSORS = "model.safetensors"
PICKLED = "pytorch_model.bin"
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
    """The source's kind, location and content hash. Every file it holds is checked to resolve inside an
    allowed root (confine.py) before any is opened: for a local source the artifact root and
    STOWAGE_MODEL_ROOTS, for a download the folder it was downloaded into."""
    if source.startswith("s3://"):
        parsed = urlparse(source)
        s3 = S3ArtifactStore(parsed.netloc, "")
        return _local(s3.local_dir(parsed.path.strip("/")), source, [s3.cache.resolve()])
    looks_local = source.startswith(("file://", "/", ".")) or (os.sep in source and Path(source).exists())
    if not looks_local:
        if source.count("/") > 1 or ".." in source:
            raise invalid_input(f"source {source!r} is neither a path, an s3:// URI nor a Hugging Face name")
        snapshot = _download(source)
        # The hub cache keeps a repo's files as links from snapshots/<revision>/ into its blobs/.
        return _local(snapshot, source, [snapshot.resolve().parent.parent])
    path = Path(unquote(urlparse(source).path) if source.startswith("file://") else source).resolve()
    roots = allowed_roots(store)
    if not inside(path, roots):
        raise invalid_input(
            f"source {source!r} is outside the artifact root and STOWAGE_MODEL_ROOTS "
            f"({', '.join(str(r) for r in roots) or 'none configured'})"
        )
    return _local(path, source, roots)


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
            f"downloading {name!r}: {first_line(err)}", type=failures.MODEL_DOWNLOAD, non_retryable=False
        ) from err


def _local(path: Path, source: str, roots: list[Path]) -> ModelSource:
    if not path.exists():
        raise model_not_found(f"source {source!r}: {path} does not exist")
    if path.is_file():
        if path.suffix not in (".pt", ".pth", ".ts"):
            raise invalid_input(f"source {source!r} is a file but not TorchScript (.pt)")
        files = confined_files(path, roots, source)
        tokenizer = path.parent / "tokenizer"
        if tokenizer.exists() or tokenizer.is_symlink():
            _check_tokenizer_config(confined_files(tokenizer, roots, source), tokenizer, source)
        return ModelSource("torchscript", str(path), hash_files(files, path.parent))
    files = confined_files(path, roots, source)
    _check_tokenizer_config(files, path, source)
    if path / "config.json" not in files:
        raise model_not_found(f"source {source!r}: {path} has no config.json (not a Hugging Face folder)")
    hashed = [f for f in files if not f.name.startswith(".")]
    return ModelSource("folder", str(path), hash_files(hashed, path))


def _check_tokenizer_config(files: list[Path], folder: Path, source: str) -> None:
    """transformers opens the files a tokenizer_config.json names (`tokenizer_file`, `vocab_file`, ...) as
    they are, wherever they point, and joins `fast_tokenizer_files` names to the folder unchecked. What
    save_pretrained writes names none, so any such entry is refused rather than followed."""
    config_file = folder / "tokenizer_config.json"
    if config_file not in files:
        return
    try:
        config = json.loads(config_file.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise unsupported_model(
            f"source {source!r}: tokenizer_config.json is not JSON: {first_line(err)}"
        ) from err
    if not isinstance(config, dict):
        return
    named = [json.dumps(k) for k, v in config.items() if k.endswith("_file") and v is not None]
    fast = config.get("fast_tokenizer_files") or []
    if not isinstance(fast, list) or any(not isinstance(n, str) or Path(n).name != n for n in fast):
        named.append('"fast_tokenizer_files"')
    if named:
        raise invalid_input(
            f"source {source!r}: tokenizer_config.json names files by path ({', '.join(named)}), which would "
            "be read wherever they point: a source's files are read from its own folder only"
        )


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
        return AutoTokenizer.from_pretrained(source.tokenizer_dir, trust_remote_code=False)
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
        config = transformers.AutoConfig.from_pretrained(source.location, trust_remote_code=False)
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
        return _with_weights(model_class, Path(source.location), config).eval()
    except OSError as err:
        raise model_not_found(f"{source.location}: {first_line(err)}") from err


def _with_weights(model_class, folder: Path, config):
    """The model with its weights, read by a loader that cannot run code: safetensors where the folder has
    them, else torch.load(weights_only=True), which refuses any pickle that imports more than tensors."""
    if (folder / SAFETENSORS).exists() or (folder / f"{SAFETENSORS}.index.json").exists():
        _shards(folder, SAFETENSORS)  # only to refuse an index that names files outside the folder
        return model_class.from_pretrained(str(folder), config=config, use_safetensors=True)
    state_dict: dict[str, torch.Tensor] = {}
    for file in _shards(folder, PICKLED):
        try:
            state_dict.update(torch.load(file, map_location="cpu", weights_only=True))
        except pickle.UnpicklingError as err:
            imports = re.search(r"GLOBAL (\S+)", str(err))
            raise unsupported_model(
                f"{file.name} in {folder} was refused: it is a pickle that "
                f"{f'imports {imports.group(1)}' if imports else 'holds more than tensors'}, which could run "
                "code; only safetensors or plain tensor pickles are loaded"
            ) from None
        except RuntimeError as err:
            raise unsupported_model(f"{file} is not a loadable checkpoint: {first_line(err)}") from err
    # No path: from_pretrained then reads no file of its own, only the config and this state dict.
    return model_class.from_pretrained(None, config=config, state_dict=state_dict)


def _shards(folder: Path, weights: str) -> list[Path]:
    """The weight files: `weights` itself, or the shards its index lists."""
    index = folder / f"{weights}.index.json"
    if not index.exists():
        if not (folder / weights).exists():
            raise model_not_found(f"{folder} has no weights ({SAFETENSORS} or {PICKLED})")
        return [folder / weights]
    try:
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    except (ValueError, KeyError, AttributeError, TypeError) as err:
        raise unsupported_model(f"{index} is not a checkpoint index: {first_line(err)}") from err
    # Shard names come from a file in the source: plain names of files beside it, never paths.
    bad = [s for s in shards if not isinstance(s, str) or s in ("", ".", "..") or Path(s).name != s]
    if bad:
        raise invalid_input(f"{index.name} in {folder} names shards that are not file names: {bad[:3]!r}")
    return [folder / s for s in shards]


def _suits(class_name: str, task: str) -> bool:
    suffix = {
        "question-answering": "ForQuestionAnswering",
        "sequence-classification": "ForSequenceClassification",
    }
    return class_name.endswith(suffix[task])


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
