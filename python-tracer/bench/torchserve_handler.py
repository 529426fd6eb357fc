"""TorchServe handler for the serving benchmark: the same TorchScript file, tokenizer and answer as the
Stowage model server, written the way TorchServe's custom handlers are. Benchmark only, never deployed.

TorchServe batches requests itself (the model's batchSize / maxBatchDelay) and hands the handler a list;
TorchServe drops a GET's query parameters (a request
is its body alone), so a GET is answered for the default question, which is the one the load sends. The batch is padded to its longest question,
as the Stowage server does, so both run the same forward passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoTokenizer

DEFAULT = ("HuggingFace is based in New York City", "Where is HuggingFace based?")


def _text(row: dict, name: str, default: str) -> str:
    value = row.get(name)
    body = row.get("body") or row.get("data")
    if value is None and body:
        value = (json.loads(body) if isinstance(body, bytes | bytearray) else body).get(name)
    if isinstance(value, bytes | bytearray):
        value = value.decode()
    return value or default


class QuestionAnswering:
    def __init__(self) -> None:
        self.initialized = False

    def initialize(self, context) -> None:
        folder = Path(context.system_properties["model_dir"])
        manifest = json.loads((folder / "manifest.json").read_text())
        self.sequence_length = int(manifest["sequenceLength"])
        # The archiver copies an extra folder's files into the model folder itself.
        tokenizer = folder / "tokenizer" if (folder / "tokenizer").is_dir() else folder
        self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))
        self.module = torch.jit.load(str(folder / "model.pt")).eval()
        self.initialized = True

    def handle(self, data: list[dict], context) -> list[dict]:
        pairs = [(_text(r, "seq_0", DEFAULT[0]), _text(r, "seq_1", DEFAULT[1])) for r in data]
        enc = self.tokenizer(
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            padding="longest",
            truncation=True,
            max_length=self.sequence_length,
            return_tensors="pt",
        )
        ids, mask = enc["input_ids"], enc["attention_mask"]
        with torch.inference_mode():
            start, end = self.module(ids, mask)[:2]
        real = mask.bool()
        start = start.masked_fill(~real, float("-inf"))
        end = end.masked_fill(~real, float("-inf"))
        out = []
        for row, s, e in zip(ids.tolist(), start.argmax(1).tolist(), end.argmax(1).tolist(), strict=True):
            tokens = row[s : e + 1] if e >= s else row[s : s + 1]
            out.append(
                {"answer": self.tokenizer.decode(tokens, skip_special_tokens=True), "start": s, "end": e}
            )
        return out


_service = QuestionAnswering()


def handle(data, context):
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
