"""The FastAPI app: the post's /predictions API, plus readiness, model listing and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from .batching import BatchPolicy, MicroBatcher
from .metrics import ServerMetrics
from .model import MAX_TEXT_CHARS, ModelSpec, ServedModel

log = logging.getLogger("stowage.serving")

# The post's server answers its sample question when a request names no text, so `curl .../predictions/m`
# works as its smoke test did.
DEFAULT_SEQ_0 = "HuggingFace is based in New York City"
DEFAULT_SEQ_1 = "Where is HuggingFace based?"


class Question(BaseModel):
    """POST body; the same names as the GET query parameters."""

    model_config = ConfigDict(extra="forbid")
    seq_0: str = Field(DEFAULT_SEQ_0, min_length=1, max_length=MAX_TEXT_CHARS)
    seq_1: str = Field(DEFAULT_SEQ_1, min_length=1, max_length=MAX_TEXT_CHARS)


class ServerState:
    def __init__(self, specs: list[ModelSpec], policy: BatchPolicy, device: str) -> None:
        self.specs = specs
        self.policy = policy
        self.device = device
        self.metrics = ServerMetrics()
        self.models: dict[str, ServedModel] = {}
        self.batchers: dict[str, MicroBatcher] = {}
        self.ready = False
        self.load_error: str | None = None
        # One inference thread: on a CPU device torch already spreads one pass over its intra-op threads,
        # and two concurrent passes would only fight for the same cores.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infer")

    def load_all(self) -> None:
        """Loads and warms every assigned model (the post's download-at-initialisation step)."""
        for spec in self.specs:
            model = ServedModel(spec, self.device)
            model.warm(self.policy.max_batch)
            self.models[spec.model_id] = model
            self.metrics.model_memory.labels(spec.model_id).set(model.memory_bytes)
            self.metrics.loaded.inc()
            log.info("loaded %s from %s (dynamic batch: %s)", spec.model_id, spec.path, model.dynamic_batch)


def create_app(specs: list[ModelSpec], policy: BatchPolicy | None = None, device: str = "cpu") -> FastAPI:
    state = ServerState(specs, policy or BatchPolicy(), device)

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
            loop.call_soon_threadsafe(start_batchers)

        def start_batchers() -> None:
            for model_id, model in state.models.items():
                batcher = MicroBatcher(
                    model.predict,
                    state.policy,
                    state.executor,
                    on_batch=state.metrics.batch_size.labels(model_id).observe,
                )
                batcher.start()
                state.batchers[model_id] = batcher
            state.ready = True

        # Load in the background so /healthz answers (alive) while the models load.
        threading.Thread(target=load, name="load-models", daemon=True).start()
        yield
        for batcher in state.batchers.values():
            await batcher.stop()
        state.executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="Stowage model server", lifespan=lifespan)
    app.state.serving = state

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        model_id = request.path_params.get("model_id")
        if model_id in state.models:
            state.metrics.requests.labels(model_id, "422").inc()
        detail = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        body = {"ready": state.ready, "loaded": len(state.models), "assigned": len(state.specs)}
        return JSONResponse(body, status_code=200 if state.ready else 503)

    @app.get("/models")
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
            "batching": {"maxBatch": state.policy.max_batch, "windowMs": state.policy.window_ms},
        }

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def answer(model_id: str, question: Question) -> JSONResponse:
        batcher = state.batchers.get(model_id)
        if batcher is None:
            if not state.ready and any(s.model_id == model_id for s in state.specs):
                return JSONResponse({"detail": f"model {model_id!r} is still loading"}, status_code=503)
            served = ", ".join(sorted(s.model_id for s in state.specs))
            return JSONResponse(
                {"detail": f"model {model_id!r} is not served here; this server serves: {served}"},
                status_code=404,
            )
        started = time.perf_counter()
        result = await batcher.submit((question.seq_0, question.seq_1))
        state.metrics.latency.labels(model_id).observe(time.perf_counter() - started)
        state.metrics.requests.labels(model_id, "200").inc()
        return JSONResponse({"modelId": model_id, **result})

    @app.get("/predictions/{model_id}")
    async def predict_get(
        model_id: str, seq_0: str = DEFAULT_SEQ_0, seq_1: str = DEFAULT_SEQ_1
    ) -> JSONResponse:
        try:
            question = Question(seq_0=seq_0, seq_1=seq_1)
        except ValueError as err:
            # Same 422 shape as a bad POST body.
            raise RequestValidationError(err.errors()) from None  # type: ignore[attr-defined]
        return await answer(model_id, question)

    @app.post("/predictions/{model_id}")
    async def predict_post(model_id: str, question: Question) -> JSONResponse:
        return await answer(model_id, question)

    return app
