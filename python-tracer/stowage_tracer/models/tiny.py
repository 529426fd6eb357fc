"""BERT question-answering models in Hugging Face layout with random weights, for tests, the demo and
benchmarks: small ones, and bert-base-size ones (BertConfig's defaults, 110M parameters, 30,522 tokens).

Each is saved with `save_pretrained` and a generated vocabulary, so the tracer loads it through the same
`from_pretrained` path a real bert-base takes. A different seed per model makes their answers differ.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import torch

# Covers the post's sample question, so the tokenizer produces words rather than [UNK].
WORDS = [
    "huggingface",
    "is",
    "based",
    "in",
    "new",
    "york",
    "city",
    "where",
    "the",
    "what",
    "who",
    "how",
    "a",
    "an",
    "of",
    "to",
    "and",
    "paris",
    "london",
    "company",
    "model",
    "server",
    "answer",
    "question",
    "deep",
    "learning",
    "models",
    "serve",
    "on",
    "amazon",
    "eks",
    "with",
    "aws",
    "inferentia",
]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny_model(
    out: Path, *, seed: int = 0, hidden: int = 32, layers: int = 2, heads: int = 2, max_positions: int = 128
) -> Path:
    """Writes config.json, model weights and tokenizer files into `out`; returns `out`."""
    from transformers import BertConfig

    tokenizer = _tokenizer(out, vocab_size=0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 2,
        max_position_embeddings=max_positions,
    )
    return _save(out, config, seed)


def make_bert_base_model(out: Path, *, seed: int = 0) -> Path:
    """bert-base's shape (BertConfig defaults) with random weights: the post's model size, not its skill."""
    from transformers import BertConfig

    config = BertConfig()
    _tokenizer(out, vocab_size=config.vocab_size)
    return _save(out, config, seed)


SIZES = {"tiny": make_tiny_model, "bert-base": make_bert_base_model}

# Small BERT shapes (hidden, layers, heads) for fleets of many models: each shape is one architecture,
# its copies fine-tune-style siblings with their own weights.
TINY_SHAPES = [(32, 2, 2), (64, 2, 4), (32, 4, 2), (48, 3, 3)]


def make_tiny_models(
    out: Path,
    count: int,
    *,
    prefix: str = "tiny-bert-qa",
    size: str = "tiny",
    shapes: int = 1,
    keep_existing: bool = False,
    **kwargs,
) -> list[Path]:
    """`count` models; with `shapes` > 1 (tiny only) model i takes TINY_SHAPES[i % shapes]. With
    `keep_existing`, a folder whose weights are written already is kept: model i depends only on i."""
    if shapes > 1 and (size != "tiny" or not 1 <= shapes <= len(TINY_SHAPES)):
        raise ValueError(f"shapes: 1 to {len(TINY_SHAPES)}, and only for size tiny")
    folders = []
    for i in range(count):
        folder = out / f"{prefix}-{i}"
        folders.append(folder)
        if keep_existing and (folder / "model.safetensors").exists():
            continue
        shape = _shape(TINY_SHAPES[i % shapes]) if shapes > 1 else {}
        SIZES[size](folder, seed=i, **shape, **kwargs)
    return folders


def _shape(shape: tuple[int, int, int]) -> dict:
    hidden, layers, heads = shape
    return {"hidden": hidden, "layers": layers, "heads": heads}


def _tokenizer(out: Path, *, vocab_size: int):
    """A vocabulary covering the post's sample question, padded with filler tokens up to `vocab_size`."""
    tokenizer, files = _template_tokenizer(vocab_size)
    out.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copyfile(file, out / file.name)
    return tokenizer


@functools.cache
def _template_tokenizer(vocab_size: int):
    """Built once per vocabulary size and copied: building it is most of a small model's generation time."""
    from transformers import BertTokenizerFast

    folder = Path(tempfile.mkdtemp(prefix="stowage-tokenizer-"))
    words = [*SPECIAL, *WORDS, "?", ".", ","]
    words += [f"filler{i}" for i in range(max(0, vocab_size - len(words)))]
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    tokenizer.save_pretrained(str(folder))
    return tokenizer, sorted(p for p in folder.iterdir() if p.is_file())


def _save(out: Path, config, seed: int) -> Path:
    from transformers import BertForQuestionAnswering

    torch.manual_seed(seed)
    config.architectures = ["BertForQuestionAnswering"]
    BertForQuestionAnswering(config).eval().save_pretrained(str(out))
    return out
