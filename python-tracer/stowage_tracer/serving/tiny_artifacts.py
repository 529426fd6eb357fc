"""Tiny traced BERT question-answering models in the artifact layout, for tests and benchmarks.

The server's tests and benchmark need traced models without running the tracer worker: this traces the
tiny models of ``stowage_tracer.models.tiny`` (same vocabulary) straight into the artifact layout
``models/<modelId>/<processor>/<traceKey>/`` (model.pt, manifest.json, profile.json, tokenizer/), the way
the post traces bert-base: ``torch.jit.trace(model, (input_ids, attention_mask))``. Tiny so that a 2-core
machine builds one in well under a second.

    python -m stowage_tracer.serving.tiny_artifacts --root DIR --models m0,m1 [--hidden 32]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..models.tiny import SPECIAL, WORDS

SEQUENCE_LENGTH = 32


class _Logits(torch.nn.Module):
    """Returns (start_logits, end_logits) as a tuple: TorchScript traces tuples, not ModelOutput."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)
        return out[0], out[1]


def build(
    root: Path,
    model_id: str,
    *,
    processor: str = "cpu",
    hidden: int = 32,
    layers: int = 2,
    sequence_length: int = SEQUENCE_LENGTH,
    seed: int = 0,
    bert_base: bool = False,
) -> Path:
    """Writes one tiny traced model; returns its artifact folder. Idempotent: an existing one is kept."""
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    folder = root / "models" / model_id / processor / f"bs1-seq{sequence_length}"
    if (folder / "manifest.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    tok_dir = folder / "tokenizer"
    tok_dir.mkdir(exist_ok=True)
    vocab = [*SPECIAL, *WORDS, "?", ".", ","]
    (tok_dir / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(tok_dir / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(str(tok_dir))

    # A different seed per model id, so models give different answers and a mis-route is visible.
    torch.manual_seed(seed + sum(model_id.encode()))
    # bert_base: BertConfig's default shape (hidden 768, 12 layers and heads, 110M parameters less the
    # vocabulary's), the post's model size with random weights, for serving benchmarks.
    shape = (
        {}
        if bert_base
        else {
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": 2,
            "intermediate_size": hidden * 2,
            "max_position_embeddings": max(64, sequence_length),
        }
    )
    config = BertConfig(vocab_size=len(vocab), torchscript=True, **shape)
    model = _Logits(BertForQuestionAnswering(config).eval())
    enc = tokenizer(
        "HuggingFace is based in New York City",
        "Where is HuggingFace based?",
        padding="max_length",
        truncation=True,
        max_length=sequence_length,
        return_tensors="pt",
    )
    with torch.no_grad():
        traced = torch.jit.trace(model, (enc["input_ids"], enc["attention_mask"]))
    traced.save(str(folder / "model.pt"))
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    manifest = {
        "modelId": model_id,
        "processor": processor,
        "traceKey": folder.name,
        "task": "question-answering",
        "inputs": [
            {"name": "input_ids", "dtype": "int64", "shape": [1, sequence_length]},
            {"name": "attention_mask", "dtype": "int64", "shape": [1, sequence_length]},
        ],
        "outputs": [
            {"name": "start_logits", "dtype": "float32", "shape": [1, sequence_length]},
            {"name": "end_logits", "dtype": "float32", "shape": [1, sequence_length]},
        ],
        "sequenceLength": sequence_length,
        "batchSize": 1,
        "tokenizer": "tokenizer",
        "files": sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (folder / "profile.json").write_text(json.dumps({"modelId": model_id, "memoryBytes": params}))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stowage_tracer.serving.tiny_artifacts")
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--models", required=True, help="comma list of model ids")
    parser.add_argument("--processor", default="cpu")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--sequence-length", type=int, default=SEQUENCE_LENGTH)
    parser.add_argument("--bert-base", action="store_true", help="BertConfig's default shape")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    folders = {
        m: str(
            build(
                args.root,
                m,
                processor=args.processor,
                hidden=args.hidden,
                layers=args.layers,
                sequence_length=args.sequence_length,
                bert_base=args.bert_base,
            )
        )
        for m in args.models.split(",")
        if m
    }
    print(json.dumps(folders))
    return 0


if __name__ == "__main__":
    sys.exit(main())
