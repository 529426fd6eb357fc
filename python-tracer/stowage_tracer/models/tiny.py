"""BERT question-answering models in Hugging Face layout with random weights, for tests, the demo and
benchmarks: small ones, and bert-base-size ones (BertConfig's defaults, 110M parameters, 30,522 tokens).

Each is saved with `save_pretrained` and a generated vocabulary, so the tracer loads it through the same
`from_pretrained` path a real bert-base takes. A different seed per model makes their answers differ.
"""

from __future__ import annotations

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


def make_tiny_models(
    out: Path, count: int, *, prefix: str = "tiny-bert-qa", size: str = "tiny", **kwargs
) -> list[Path]:
    return [SIZES[size](out / f"{prefix}-{i}", seed=i, **kwargs) for i in range(count)]


def _tokenizer(out: Path, *, vocab_size: int):
    """A vocabulary covering the post's sample question, padded with filler tokens up to `vocab_size`."""
    from transformers import BertTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    words = [*SPECIAL, *WORDS, "?", ".", ","]
    words += [f"filler{i}" for i in range(max(0, vocab_size - len(words)))]
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    tokenizer.save_pretrained(str(out))
    return tokenizer


def _save(out: Path, config, seed: int) -> Path:
    from transformers import BertForQuestionAnswering

    torch.manual_seed(seed)
    config.architectures = ["BertForQuestionAnswering"]
    BertForQuestionAnswering(config).eval().save_pretrained(str(out))
    return out
