"""One served model: a traced question-answering model, its tokenizer and its answer post-processing."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

# Bounds on one question: the tokenizer truncates anyway, these only keep absurd bodies out (422, not 500).
MAX_TEXT_CHARS = 10_000


@dataclass(frozen=True)
class ModelSpec:
    """Where one assigned model lives: its artifact folder (models/<modelId>/<processor>/<traceKey>/)."""

    model_id: str
    path: Path


def read_specs(file: Path) -> list[ModelSpec]:
    """Reads the server's assignment: {"models": [{"modelId": ..., "path": ...}, ...]}."""
    raw = json.loads(Path(file).read_text())
    entries = raw.get("models") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(
            f"{file}: expected {{'models': [{{'modelId', 'path'}}, ...]}} with at least one model"
        )
    specs = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("modelId") or not entry.get("path"):
            raise ValueError(f"{file}: models[{i}] needs modelId and path")
        specs.append(ModelSpec(str(entry["modelId"]), Path(entry["path"])))
    ids = [s.model_id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{file}: duplicate model ids")
    return specs


class ServedModel:
    """Loads model.pt + tokenizer/ per manifest.json; answers batches of (question context, question)."""

    def __init__(self, spec: ModelSpec, device: str = "cpu") -> None:
        from transformers import AutoTokenizer

        manifest_file = spec.path / "manifest.json"
        if not manifest_file.exists():
            raise FileNotFoundError(f"model {spec.model_id}: no manifest.json in {spec.path}")
        self.manifest = json.loads(manifest_file.read_text())
        self.model_id = spec.model_id
        self.device = torch.device(device)
        self.sequence_length = int(self.manifest["sequenceLength"])
        self.traced_batch = int(self.manifest.get("batchSize") or 1)
        tok = self.manifest.get("tokenizer")
        if not tok:
            raise ValueError(f"model {spec.model_id}: manifest has no tokenizer, cannot take text input")
        self.tokenizer = AutoTokenizer.from_pretrained(str(spec.path / tok))
        self._tokenizer_lock = threading.Lock()
        self.module = torch.jit.load(str(spec.path / "model.pt"), map_location=self.device).eval()
        self.memory_bytes = sum(
            t.numel() * t.element_size() for t in [*self.module.parameters(), *self.module.buffers()]
        )
        # Set by warm(): whether the trace accepts any batch size (most TorchScript traces of BERT do;
        # a Neuron trace is fixed to its traced batch, so it is padded up to that instead).
        self.dynamic_batch = False
        # Set by warm(): whether the trace accepts shorter sequences. The post pads every question to the
        # traced length (128 tokens for a 20-token question); padding is masked out of attention, so cutting
        # it gives the same logits on the real tokens at a fraction of the compute. A fixed-shape (Neuron)
        # trace keeps its padding.
        self.dynamic_length = False
        self.warm_ = False

    def encode(
        self, pairs: list[tuple[str, str]], padding: str = "max_length"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # "max_length" pads as traced; "longest" pads only to the batch's longest question (for a trace
        # that accepts shorter sequences: the padding is masked out of attention anyway).
        # A fast tokenizer is one Rust object that a call may reconfigure (padding, truncation), and two
        # worker threads calling it at once fail with "Already borrowed": one call at a time per model.
        with self._tokenizer_lock:
            enc = self.tokenizer(
                [p[0] for p in pairs],
                [p[1] for p in pairs],
                padding=padding,
                truncation=True,
                max_length=self.sequence_length,
                return_tensors="pt",
            )
        return enc["input_ids"], enc["attention_mask"]

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode():
            start, end = self.module(ids.to(self.device), mask.to(self.device))[:2]
        return start.cpu(), end.cpu()

    def warm(self, max_batch: int) -> None:
        """One inference at batch 1 and at max_batch: pays lazy initialisation before /readyz says yes."""
        sample = [("HuggingFace is based in New York City", "Where is HuggingFace based?")]
        self.predict(sample)
        ids, mask = self.encode(sample)
        used = int(mask.sum())
        if used < self.sequence_length:
            full_start, full_end = self._forward(ids, mask)
            try:
                short_start, short_end = self._forward(
                    ids[:, :used].contiguous(), mask[:, :used].contiguous()
                )
                self.dynamic_length = bool(
                    torch.allclose(full_start[:, :used], short_start, atol=1e-4)
                    and torch.allclose(full_end[:, :used], short_end, atol=1e-4)
                )
            except RuntimeError:
                self.dynamic_length = False
        if max_batch > 1:
            try:
                self._forward(*self.encode(sample * max_batch))
                self.dynamic_batch = True
            except RuntimeError:
                self.dynamic_batch = False
        self.warm_ = True

    def predict(self, pairs: list[tuple[str, str]]) -> list[dict]:
        """Answers for a batch, in order. Runs the model in chunks the trace accepts."""
        ids, mask = self.encode(pairs, "longest" if self.dynamic_length else "max_length")
        chunk = len(pairs) if self.dynamic_batch else self.traced_batch
        starts, ends = [], []
        for i in range(0, len(pairs), chunk):
            cid, cmask = ids[i : i + chunk], mask[i : i + chunk]
            n = cid.shape[0]
            if not self.dynamic_batch and n < self.traced_batch:
                # A fixed-batch trace takes exactly its batch: pad with copies, drop their answers.
                pad = self.traced_batch - n
                cid = torch.cat([cid, cid[-1:].expand(pad, -1)])
                cmask = torch.cat([cmask, cmask[-1:].expand(pad, -1)])
            s, e = self._forward(cid, cmask)
            starts.append(s[:n])
            ends.append(e[:n])
        return self._answers(ids, mask, torch.cat(starts), torch.cat(ends))

    def _answers(
        self, ids: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, end: torch.Tensor
    ) -> list[dict]:
        # The post's post-processing: the span between argmax(start) and argmax(end) logits, over the
        # question's real tokens only (a span in the padding is no answer, and this keeps answers the same
        # whether or not the padding was cut). One tensor operation for the whole batch, then per answer
        # only the decoding.
        real = mask[:, : start.shape[1]].bool()
        start = start.float().masked_fill(~real, float("-inf"))
        end = end.float().masked_fill(~real, float("-inf"))
        s_all = torch.argmax(start, dim=1)
        e_all = torch.argmax(end, dim=1)
        scores = (start.gather(1, s_all[:, None]) + end.gather(1, e_all[:, None]))[:, 0].tolist()
        rows = ids.tolist()
        answers = []
        for row, s, e, score in zip(rows, s_all.tolist(), e_all.tolist(), scores, strict=True):
            tokens = row[s : e + 1] if e >= s else row[s : s + 1]
            answer = self.tokenizer.decode(tokens, skip_special_tokens=True)
            answers.append({"answer": answer, "start": s, "end": e, "score": score})
        return answers
