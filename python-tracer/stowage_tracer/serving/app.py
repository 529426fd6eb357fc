"""The model server's ASGI app: the post's /predictions API, plus readiness, model listing and metrics.

/predictions is answered by a plain ASGI handler: it is the only route under load, and FastAPI's routing,
dependency injection and pydantic validation cost more Python per request than the tiny models' forward
pass (a profile at 300 req/s spent a third of the time holding the GIL there). Its checks are the same as
the pydantic model's were and give the same 422 shape. Every other route stays on FastAPI.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

import torch
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .batching import BatchPolicy, WorkerPool
from .metrics import ServerMetrics
from .model import MAX_TEXT_CHARS, ModelSpec, ServedModel

log = logging.getLogger("stowage.serving")

# The post's server answers its sample question when a request names no text, so `curl .../predictions/m`
# works as its smoke test did.
DEFAULT_SEQ_0 = "HuggingFace is based in New York City"
DEFAULT_SEQ_1 = "Where is HuggingFace based?"
FIELDS = ("seq_0", "seq_1")
PREFIX = "/predictions/"
# Two questions of MAX_TEXT_CHARS, JSON-escaped at worst, fit with room to spare.
MAX_BODY_BYTES = 16 * MAX_TEXT_CHARS
_JSON_HEADERS = [(b"content-type", b"application/json")]


class ServerState:
    def __init__(self, specs: list[ModelSpec], policy: BatchPolicy, device: str) -> None:
        self.specs = specs
        self.spec_ids = {s.model_id for s in specs}
        self.policy = policy
        self.device = device
        self.metrics = ServerMetrics()
        self.models: dict[str, ServedModel] = {}
        self.pool: WorkerPool | None = None
        self.ready = False
        self.load_error: str | None = None

    def load_all(self) -> None:
        """Loads and warms every assigned model (the post's download-at-initialisation step)."""
        self.pin_threads()
        for spec in self.specs:
            model = ServedModel(spec, self.device)
            model.warm(self.policy.max_batch)
            self.models[spec.model_id] = model
            self.metrics.model_memory.labels(spec.model_id).set(model.memory_bytes)
            self.metrics.loaded.inc()
            log.info("loaded %s from %s (dynamic batch: %s)", spec.model_id, spec.path, model.dynamic_batch)

    def pin_threads(self) -> None:
        """Torch's intra-op thread count is per calling thread: each worker (and the loader) sets its own."""
        if self.policy.threads > 0:
            torch.set_num_threads(self.policy.threads)


def _json(status: int, body: dict) -> tuple[int, bytes]:
    return status, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _invalid(where: str, field: object, msg: str) -> tuple[int, bytes]:
    return _json(422, {"detail": [{"loc": [where, field] if field is not None else [where], "msg": msg}]})


def _question(source: dict, where: str) -> tuple[tuple[str, str] | None, tuple[int, bytes] | None]:
    """The two texts, or a 422 naming the first bad field (the checks pydantic made before)."""
    if where == "body":
        extra = [k for k in source if k not in FIELDS]
        if extra:
            return None, _invalid(where, extra[0], "Extra inputs are not permitted")
    texts = []
    for name, default in zip(FIELDS, (DEFAULT_SEQ_0, DEFAULT_SEQ_1), strict=True):
        value = source.get(name, default)
        if not isinstance(value, str):
            return None, _invalid(where, name, "Input should be a valid string")
        if not value:
            return None, _invalid(where, name, "String should have at least 1 character")
        if len(value) > MAX_TEXT_CHARS:
            return None, _invalid(where, name, f"String should have at most {MAX_TEXT_CHARS} characters")
        texts.append(value)
    return (texts[0], texts[1]), None


async def _read_body(receive) -> bytes | None:
    """The request body, or None when it is larger than any valid question."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse_body(scope: dict, body: bytes | None) -> tuple[dict | None, tuple[int, bytes] | None]:
    if body is None:
        return None, _invalid("body", None, f"body larger than {MAX_BODY_BYTES} bytes")
    content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"").decode("latin-1")
    media = content_type.split(";", 1)[0].strip().lower()
    # As FastAPI: no content type is read as JSON, any other than JSON is not a question.
    if media and not (media == "application/json" or media.endswith("+json")):
        return None, _invalid("body", None, "Input should be a valid dictionary or object")
    if not body:
        return None, _invalid("body", None, "Field required")
    try:
        raw = json.loads(body)
    except ValueError as err:
        return None, _invalid("body", getattr(err, "pos", 0), "JSON decode error")
    if not isinstance(raw, dict):
        return None, _invalid("body", None, "Input should be a valid dictionary or object")
    return raw, None


def create_app(specs: list[ModelSpec], policy: BatchPolicy | None = None, device: str = "cpu"):
    state = ServerState(specs, policy or BatchPolicy(), device)
    metrics = state.metrics

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        loop = asyncio.get_running_loop()

        def load() -> None:
            try:
                state.load_all()
            except Exception as err:
                state.load_error = f"{type(err).__name__}: {err}"
                log.exception("loading models failed")
                # A server that cannot serve its assignment must not linger half-alive: the runtime that
                # started it sees the exit (and the log) instead of waiting for a readiness that never comes.
                os._exit(3)
            loop.call_soon_threadsafe(start_pool)

        def start_pool() -> None:
            state.pool = WorkerPool(
                {model_id: model.predict for model_id, model in state.models.items()},
                state.policy,
                on_batch=metrics.batched,
                on_worker_start=state.pin_threads,
            )
            state.pool.start()
            state.ready = True
            log.info(
                "serving %d models: %d workers of %d torch threads, batch ≤ %d, window %s ms",
                len(state.models),
                state.policy.workers,
                torch.get_num_threads() if state.policy.threads == 0 else state.policy.threads,
                state.policy.max_batch,
                state.policy.window_ms,
            )

        # Load in the background so /healthz answers (alive) while the models load.
        threading.Thread(target=load, name="load-models", daemon=True).start()
        yield
        if state.pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, state.pool.stop)

    api = FastAPI(title="Stowage model server", lifespan=lifespan)
    api.state.serving = state

    @api.get("/healthz")
    async def healthz() -> dict:
        return {"status": "alive"}

    @api.get("/readyz")
    async def readyz() -> JSONResponse:
        body = {"ready": state.ready, "loaded": len(state.models), "assigned": len(state.specs)}
        return JSONResponse(body, status_code=200 if state.ready else 503)

    @api.get("/models")
    async def models() -> dict:
        return {
            "models": [
                {
                    "modelId": spec.model_id,
                    "path": str(spec.path),
                    "loaded": spec.model_id in state.models,
                    "memoryBytes": state.models[spec.model_id].memory_bytes
                    if spec.model_id in state.models
                    else None,
                }
                for spec in state.specs
            ],
            "batching": {
                "maxBatch": state.policy.max_batch,
                "windowMs": state.policy.window_ms,
                "workers": state.policy.workers,
                "threads": state.policy.threads,
            },
        }

    @api.get("/metrics")
    async def metrics_route() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def answer(model_id: str, question: tuple[str, str]) -> tuple[int, bytes]:
        pool = state.pool
        if pool is None or model_id not in state.models:
            if not state.ready and model_id in state.spec_ids:
                return _json(503, {"detail": f"model {model_id!r} is still loading"})
            served = ", ".join(sorted(state.spec_ids))
            return _json(
                404, {"detail": f"model {model_id!r} is not served here; this server serves: {served}"}
            )
        started = time.perf_counter()
        try:
            result = await pool.submit(model_id, question)
        except Exception as err:
            log.exception("inference for %s failed", model_id)
            metrics.answered(model_id, "500")
            return _json(500, {"detail": f"inference failed: {type(err).__name__}: {err}"})
        metrics.answered(model_id, "200", time.perf_counter() - started)
        return _json(200, {"modelId": model_id, **result})

    async def predictions(scope, receive, send, model_id: str) -> None:
        if scope["method"] == "GET":
            query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
            question, problem = _question(query, "query")
        else:
            raw, problem = _parse_body(scope, await _read_body(receive))
            question = None
            if raw is not None:
                question, problem = _question(raw, "body")
        if problem is not None:
            if model_id in state.models:
                metrics.answered(model_id, "422")
            status, body = problem
        else:
            status, body = await answer(model_id, question)  # type: ignore[arg-type]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def app(scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "POST"):
            path = scope["path"]
            if path.startswith(PREFIX) and len(path) > len(PREFIX) and "/" not in path[len(PREFIX) :]:
                await predictions(scope, receive, send, path[len(PREFIX) :])
                return
        await api(scope, receive, send)

    app.state = api.state  # type: ignore[attr-defined]
    return app
