"""Small BERT question-answering models in Hugging Face layout, for tests and the demo.

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
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join([*SPECIAL, *WORDS, "?", ".", ","]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    tokenizer.save_pretrained(str(out))

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 2,
        max_position_embeddings=max_positions,
        architectures=["BertForQuestionAnswering"],
    )
    BertForQuestionAnswering(config).eval().save_pretrained(str(out))
    return out


def make_tiny_models(out: Path, count: int, *, prefix: str = "tiny-bert-qa", **kwargs) -> list[Path]:
    return [make_tiny_model(out / f"{prefix}-{i}", seed=i, **kwargs) for i in range(count)]
