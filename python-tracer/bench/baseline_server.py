"""The post's model server, as it was written: benchmark baseline only, never deployed.

One FastAPI app per container, every model loaded at start-up, and each request tokenised and run through
its model on its own, inside the ``async def`` handler (so the event loop does one inference at a time and
nothing is batched). The Stowage server is measured against this on the same models and cores.

    python bench/baseline_server.py --models models.json --port 8081
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI
from transformers import AutoTokenizer


def build_app(models_file: Path) -> FastAPI:
    app = FastAPI()
    models, tokenizers, seq_len = {}, {}, {}
    for entry in json.loads(models_file.read_text())["models"]:
        folder = Path(entry["path"])
        manifest = json.loads((folder / "manifest.json").read_text())
        models[entry["modelId"]] = torch.jit.load(str(folder / "model.pt")).eval()
        tokenizers[entry["modelId"]] = AutoTokenizer.from_pretrained(str(folder / manifest["tokenizer"]))
        seq_len[entry["modelId"]] = manifest["sequenceLength"]

    @app.get("/predictions/{model_id}")
    async def infer(
        model_id: str,
        seq_0: str = "HuggingFace is based in New York City",
        seq_1: str = "Where is HuggingFace based?",
    ):
        tokenizer = tokenizers[model_id]
        inputs = tokenizer.encode_plus(
            seq_0,
            seq_1,
            max_length=seq_len[model_id],
            padding="max_length",
            truncation=True,
            return_tensors="pt",
        )
        with torch.no_grad():
            start, end = models[model_id](inputs["input_ids"], inputs["attention_mask"])[:2]
        s, e = int(torch.argmax(start)), int(torch.argmax(end))
        answer = tokenizer.decode(inputs["input_ids"][0][s : e + 1], skip_special_tokens=True)
        return {"answer": answer}

    @app.get("/readyz")
    async def readyz():
        return {"ready": True}

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", required=True, type=Path)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    uvicorn.run(build_app(args.models), host="127.0.0.1", port=args.port, log_level="warning")
