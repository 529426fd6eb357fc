"""traceModel and profileModel: compile a model for this worker's processor and measure what packing needs.

Both are idempotent (the artifact key is a content hash, and a verified artifact is returned as is) and
resumable (a retried attempt reads its predecessor's heartbeat details and skips the steps whose output is
still on local disk and verifies).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from .. import failures, logs
from ..artifacts import ArtifactStore, LocalArtifactStore, check_key, model_key, sha256_bytes
from ..devices import HostDevices
from ..tracing import compile as compiling
from ..tracing import graphs
from ..tracing import profile as profiling
from ..tracing.errors import invalid_input
from ..tracing.sources import load_eager, load_tokenizer, resolve
from ..wire import (
    ArtifactRef,
    OutputCheck,
    Processor,
    ProfileModelInput,
    ProfileModelResult,
    TraceModelInput,
    TraceModelResult,
    TraceOptions,
    parse,
    tracer_task_queue,
)

log = logging.getLogger("stowage.tracer")

# Bumped when the artifact layout or tracing recipe changes, so old artifacts are not mistaken for new ones.
RECIPE_VERSION = 1
OUTPUT_NAMES = {"question-answering": ["start_logits", "end_logits"], "sequence-classification": ["logits"]}
HEARTBEAT_EVERY_S = 2.0


class TracerActivities:
    """Bound to one tracer queue: it traces only for the processor that queue names."""

    def __init__(
        self,
        processor: Processor,
        devices: HostDevices,
        store: ArtifactStore,
        work_dir: Path | None = None,
        graph_reuse: bool = True,
    ) -> None:
        self.processor = processor
        # Off only to measure what reuse saves (STOWAGE_GRAPH_REUSE=0 on the worker): every model traced in full.
        self.graph_reuse = graph_reuse
        self.devices = devices
        self.store = store
        # Staged outputs survive a killed worker, so the next attempt on this host can pick them up.
        self.work_dir = work_dir or _default_work_dir(store)
        # Models traced (artifacts produced); of them, weight swaps into a representative's graph, and
        # the profiles those reused.
        self.traces_run = 0
        self.graphs_reused = 0
        self.profiles_reused = 0
        self._graphs = graphs.GraphCache()
        self._graph_lock = threading.Lock()

    # --- traceModel ---

    @activity.defn(name="traceModel")
    def trace_model(self, payload: dict) -> dict:
        request = parse(TraceModelInput, payload)
        self._check_processor(request.processor)
        options = request.options
        if options.pipeline_cores > 1 and self.processor != "inf":
            raise invalid_input("pipelineCores > 1 applies to Inferentia (inf) only")
        info = activity.info()
        # Heartbeating starts before the source is resolved: downloading and hashing a large model take time.
        with Progress({"modelId": request.model_id}) as progress:
            progress.step("resolve")
            source = resolve(request.source, self.store)
            trace_key = self._trace_key(source.identity, source.kind, options)
            prefix = model_key(request.model_id, self.processor, trace_key)
            ref = self._ref(request.model_id, trace_key, prefix)
            base = {"modelId": request.model_id, "traceKey": trace_key}
            progress.rebase(base)

            progress.step("verify")
            cached = self._verified_manifest(prefix)
            if cached is not None:
                logs.event(log, "trace_cached", **base)
                profile = json.loads(self.store.read_bytes(f"{prefix}/profile.json"))
                if not profiling.trusted(profile) and profile.get("reusedFrom"):
                    # A copy is measured again through its representative (once per architecture), never
                    # on its own: copy the representative's profile again, if that one is trusted now.
                    profile = (
                        self._profile_copy(profile["reusedFrom"], request.model_id, trace_key) or profile
                    )
                elif not profiling.trusted(profile):
                    # The graph is sound but its timing is not: a contended or unsettled profile would
                    # keep misleading every pack, so measure it again, now.
                    logs.event(log, "profile_untrusted", measurement=profile.get("measurement"), **base)
                    profile = self._profile_from_store(
                        request.model_id, trace_key, cached, options.profile, progress
                    )
                return TraceModelResult(
                    artifact=ref,
                    cached=True,
                    attempt=info.attempt,
                    resumed_from=None,
                    trace_seconds=cached.get("traceSeconds"),
                    output_check=cached.get("outputCheck"),
                    demand=profile["demand"],
                ).to_wire()

            staging = self.work_dir / f"{request.model_id}-{self.processor}-{trace_key}"
            previous = _previous_details(info)
            resumed_from = None
            staged = _staged(staging, previous, trace_key)
            if staged is not None:
                resumed_from = previous.get("step")
                check, trace_seconds = staged["outputCheck"], staged["traceSeconds"]
                graph = staged.get("graph")
                logs.event(log, "trace_resumed", fromStep=resumed_from, attempt=info.attempt, **base)
            else:
                check, trace_seconds, graph = self._trace_into(staging, source, options, progress)
                progress.step("traced", modelSha256=_sha256_file(staging / "model.pt"))

            progress.step("profile")
            profile = self._reused_profile(request.model_id, trace_key, graph, options)
            if profile is None:
                tokenizer = load_tokenizer_dir(staging / "tokenizer")
                measured = profiling.measure(
                    staging / "model.pt",
                    self.processor,
                    lambda batch: compiling.example_inputs(tokenizer, options, batch),
                    options.batch_size,
                    options.profile,
                    progress.step,
                )
                profile = self._profile_document(request.model_id, trace_key, measured, options.profile)
            progress.step("publish")
            self._publish(
                prefix, staging, request, source, trace_key, options, check, trace_seconds, profile, graph
            )
            self._record_representative(graph, request.model_id, trace_key, prefix)
        shutil.rmtree(staging, ignore_errors=True)
        logs.event(
            log,
            "trace_done",
            traceSeconds=trace_seconds,
            resumedFrom=resumed_from,
            graphReused=bool(graph and graph["reused"]),
            **base,
        )
        return TraceModelResult(
            artifact=ref,
            cached=False,
            attempt=info.attempt,
            resumed_from=resumed_from,
            trace_seconds=trace_seconds,
            output_check=check,
            demand=profile["demand"],
            graph=graph,
        ).to_wire()

    def _trace_into(
        self, staging: Path, source, options: TraceOptions, progress: Progress
    ) -> tuple[dict, float, dict | None]:
        progress.step("load")
        tokenizer = load_tokenizer(source)
        model = load_eager(source, options.task)
        inputs = compiling.example_inputs(tokenizer, options)
        limit = compiling.tolerance(self.processor, options)

        progress.step("trace")
        started = time.perf_counter()
        # Held while a representative's cached graph carries this model's weights, until they are saved.
        with self._graph_lock:
            traced, graph, diff = self._from_representative(source, model, inputs, tokenizer, options, limit)
            if traced is not None:
                self.traces_run += 1
                check = OutputCheck(max_abs_diff=diff, tolerance=limit, passed=True).to_wire()
                trace_seconds = round(time.perf_counter() - started, 3)
                _stage(staging, tokenizer, traced, check, trace_seconds, graph)
                return check, trace_seconds, graph
        traced = compiling.trace(model, inputs, self.processor, options)
        self.traces_run += 1
        progress.step("check")
        eager = compiling.run(model, inputs, "cpu")
        diff = compiling.check_outputs(eager, compiling.run(traced, inputs, self.processor), limit)
        check = OutputCheck(max_abs_diff=diff, tolerance=limit, passed=True).to_wire()
        trace_seconds = round(time.perf_counter() - started, 3)
        _stage(staging, tokenizer, traced, check, trace_seconds, graph)
        return check, trace_seconds, graph

    # --- graph reuse ---

    def _from_representative(self, source, model, inputs, tokenizer, options: TraceOptions, limit: float):
        """(graph with this model's weights, graph record, max difference) when a verified representative
        of the same architecture exists and the swapped graph matches this model's eager outputs on
        graphs.CHECK_INPUTS inputs; (None, graph record, None) when the model must be traced in full, the
        record saying why. The record is None for sources that have no architecture config."""
        if source.kind != "folder":
            return None, None, None
        key = graphs.graph_key(
            Path(source.location) / "config.json", self.processor, options, self._toolchain()
        )
        unavailable = graphs.reuse_unavailable(self.processor) or (
            None if self.graph_reuse else graphs.SWITCHED_OFF_NOTE
        )
        if unavailable:
            return None, {"key": key, "reused": False, "from": None, "fallback": unavailable}, None
        representative = self._representative(key)
        if representative is None:
            return None, {"key": key, "reused": False, "from": None, "fallback": None}, None
        origin = {"modelId": representative["modelId"], "traceKey": representative["traceKey"]}
        try:
            # Fetched (from S3, say) only when the graph is not in memory already.
            folder = representative["prefix"]
            graph = self._graphs.get(key, lambda: self.store.local_dir(folder) / "model.pt", self.processor)
            graphs.swap_weights(graph, model, self.processor)
            checks = graphs.check_inputs(inputs, tokenizer.vocab_size)
            diff = graphs.verify(model, graph, checks, self.processor, limit)
        except (graphs.WeightsDoNotFitError, ApplicationError, RuntimeError) as err:
            # The cached graph may now hold a half-copied model: load it afresh next time.
            self._graphs.forget(key)
            reason = f"graph of {origin['modelId']} not reusable ({_first_line(err)}): traced in full"
            logs.event(log, "graph_reuse_fallback", graphKey=key, reason=reason)
            return None, {"key": key, "reused": False, "from": origin, "fallback": reason}, None
        self.graphs_reused += 1
        record = {
            "key": key,
            "reused": True,
            "from": origin,
            "fallback": None,
            "checkedInputs": len(checks),
            "parameterBytes": profiling.parameter_bytes(graph),
        }
        return graph, record, diff

    def _representative(self, key: str) -> dict | None:
        """The model traced in full for this graph key, if its artifact still verifies. A graph already in
        memory was verified when it was loaded: hashing a 440 MB model.pt per sibling would cost more
        than the swap."""
        try:
            record = json.loads(self.store.read_bytes(_graph_record_key(self.processor, key)))
        except (FileNotFoundError, ValueError):
            return None
        prefix = model_key(record["modelId"], self.processor, record["traceKey"])
        if key not in self._graphs and self._verified_manifest(prefix) is None:
            return None
        return {**record, "prefix": prefix}

    def _record_representative(self, graph: dict | None, model_id: str, trace_key: str, prefix: str) -> None:
        """A model traced in full becomes its architecture's representative when there is none yet."""
        if graph is None or graph["reused"] or graphs.reuse_unavailable(self.processor):
            return
        if self._representative(graph["key"]) is not None:
            return
        self.store.write_bytes(
            _graph_record_key(self.processor, graph["key"]),
            _json({"modelId": model_id, "traceKey": trace_key, "prefix": prefix}),
        )

    def _reused_profile(self, model_id: str, trace_key: str, graph: dict | None, options) -> dict | None:
        """The representative's profile, when this model runs its graph at its size on the same profiling
        settings: same graph, same parameter bytes, same timings. Its measurement (stable, contended) is
        carried over as it was, so a copy is trusted exactly as far as its source."""
        if not graph or not graph["reused"]:
            return None
        source = self._representative_profile(graph["from"])
        settings = options.profile.to_wire()
        if source is None or _timing_settings(source.get("settings")) != _timing_settings(settings):
            return None
        if source["memory"]["parameterBytes"] != graph.get("parameterBytes"):
            return None
        self.profiles_reused += 1
        profile = _profile_copy_of(source, graph["from"], model_id, trace_key)
        # The timings are the representative's; the demand is this model's own expected traffic on them.
        rate = options.profile.expected_requests_per_second
        return {**profile, "settings": settings, "demand": profiling.demand(profile, self.processor, rate)}

    def _profile_copy(self, origin: dict, model_id: str, trace_key: str) -> dict | None:
        """A fresh copy of the representative's profile, stored, when the representative's is trusted."""
        source = self._representative_profile(origin)
        if source is None or not profiling.trusted(source):
            return None
        profile = _profile_copy_of(source, origin, model_id, trace_key)
        self.store.write_bytes(model_key(model_id, self.processor, trace_key, "profile.json"), _json(profile))
        return profile

    def _representative_profile(self, origin: dict) -> dict | None:
        try:
            key = model_key(origin["modelId"], self.processor, origin["traceKey"], "profile.json")
            return json.loads(self.store.read_bytes(key))
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def _toolchain(self) -> dict:
        """What a trace is made with besides the model and its options."""
        return {
            "recipe": RECIPE_VERSION,
            "torch": torch.__version__,
            "neuron": _version(compiling.neuron_sdk()) if self.processor == "inf" else None,
        }

    def _publish(
        self, prefix, staging, request, source, trace_key, options, check, trace_seconds, profile, graph
    ):
        files: dict[str, dict] = {}
        for path in sorted(p for p in staging.rglob("*") if p.is_file() and p.name != "staged.json"):
            name = path.relative_to(staging).as_posix()
            data = path.read_bytes()
            self.store.write_bytes(f"{prefix}/{name}", data)
            files[name] = {"sha256": sha256_bytes(data), "bytes": len(data)}
        self.store.write_bytes(f"{prefix}/profile.json", _json(profile))
        shape = [options.batch_size, options.sequence_length]
        manifest = {
            "modelId": request.model_id,
            "processor": self.processor,
            "traceKey": trace_key,
            "source": {"uri": request.source, "kind": source.kind, "sha256": source.identity},
            "task": options.task,
            "inputs": [{"name": n, "dtype": "int64", "shape": shape} for n in compiling.INPUT_NAMES],
            "outputs": [
                {
                    "name": n,
                    "dtype": "float32",
                    "shape": shape if options.task == "question-answering" else None,
                }
                for n in OUTPUT_NAMES[options.task]
            ],
            "sequenceLength": options.sequence_length,
            "batchSize": options.batch_size,
            "precision": compiling.effective_precision(self.processor, options),
            "pipelineCores": options.pipeline_cores,
            "example": options.example.to_wire(),
            "tokenizer": "tokenizer",
            "files": files,
            "outputCheck": check,
            "traceSeconds": trace_seconds,
            "graph": graph,
            "torchVersion": torch.__version__,
            "transformersVersion": _version("transformers"),
            "neuronSdk": compiling.neuron_sdk() if self.processor == "inf" else None,
        }
        # The manifest goes last: an artifact without one is incomplete and is traced again.
        self.store.write_bytes(f"{prefix}/manifest.json", _json(manifest))

    # --- profileModel ---

    @activity.defn(name="profileModel")
    def profile_model(self, payload: dict) -> dict:
        request = parse(ProfileModelInput, payload)
        self._check_processor(request.processor)
        prefix = model_key(request.model_id, self.processor, request.trace_key)
        base = {"modelId": request.model_id, "traceKey": request.trace_key}
        with Progress(base) as progress:
            progress.step("verify")
            manifest = self._verified_manifest(prefix)
            if manifest is None:
                raise ApplicationError(
                    f"no verified artifact at {self.store.uri(prefix)}: trace the model first",
                    type=failures.ARTIFACT_NOT_FOUND,
                    non_retryable=True,
                )
            profile = self._profile_from_store(
                request.model_id, request.trace_key, manifest, request.profile, progress
            )
        return ProfileModelResult(
            artifact=self._ref(request.model_id, request.trace_key, prefix), profile=profile
        ).to_wire()

    # --- shared ---

    def _profile_from_store(self, model_id: str, trace_key: str, manifest: dict, options, progress) -> dict:
        """Profiles a stored artifact afresh and stores the new profile.json beside it."""
        prefix = model_key(model_id, self.processor, trace_key)
        progress.step("fetch")
        folder = self.store.local_dir(prefix)
        trace_options = TraceOptions(
            sequence_length=manifest["sequenceLength"],
            batch_size=manifest["batchSize"],
            example=manifest.get("example") or {},
        )
        tokenizer = load_tokenizer_dir(folder / manifest["tokenizer"])
        progress.step("profile")
        measured = profiling.measure(
            folder / "model.pt",
            self.processor,
            lambda batch: compiling.example_inputs(tokenizer, trace_options, batch),
            trace_options.batch_size,
            options,
            progress.step,
        )
        profile = self._profile_document(model_id, trace_key, measured, options)
        self.store.write_bytes(f"{prefix}/profile.json", _json(profile))
        return profile

    def _check_processor(self, processor: Processor) -> None:
        if processor != self.processor:
            raise invalid_input(
                f"this worker serves {tracer_task_queue(self.processor)}, not {processor}: "
                f"send {processor} work to {tracer_task_queue(processor)}"
            )

    def _trace_key(self, identity: str, kind: str, options: TraceOptions) -> str:
        recipe = {
            **self._toolchain(),
            "source": identity,
            "kind": kind,
            "processor": self.processor,
            # Profiling settings do not change the compiled model.
            "options": options.model_dump(mode="json", by_alias=True, exclude={"profile"}),
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:20]

    def _verified_manifest(self, prefix: str) -> dict | None:
        """The manifest if every file it lists is present with its recorded sha256; None otherwise."""
        try:
            manifest = json.loads(self.store.read_bytes(f"{prefix}/manifest.json"))
            if not self.store.exists(f"{prefix}/profile.json"):
                return None
            for name, meta in manifest["files"].items():
                if sha256_bytes(self.store.read_bytes(f"{prefix}/{name}")) != meta["sha256"]:
                    logs.event(log, "artifact_corrupt", prefix=prefix, file=name)
                    return None
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, AttributeError):
            return None
        return manifest

    def _ref(self, model_id: str, trace_key: str, prefix: str) -> ArtifactRef:
        return ArtifactRef(
            model_id=model_id,
            processor=self.processor,
            trace_key=trace_key,
            prefix=self.store.uri(prefix),
            model_uri=self.store.uri(f"{prefix}/model.pt"),
            manifest_uri=self.store.uri(f"{prefix}/manifest.json"),
            profile_uri=self.store.uri(f"{prefix}/profile.json"),
        )

    def _profile_document(self, model_id: str, trace_key: str, measured: dict, options) -> dict:
        devices = self.devices.devices_for(self.processor)
        return {
            "modelId": model_id,
            "processor": self.processor,
            "traceKey": trace_key,
            "device": devices[0].name if devices else None,
            "measuredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "settings": options.to_wire(),
            **measured,
            "demand": profiling.demand(measured, self.processor, options.expected_requests_per_second),
            "units": profiling.UNITS,
        }


class Progress:
    """Heartbeats the current step: at each step (checking for cancellation there) and every few seconds in
    between from a background thread, so one long compile does not look like a dead worker."""

    def __init__(self, base: dict) -> None:
        self.details = dict(base)
        self._base = dict(base)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._beat_loop,), daemon=True
        )

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def rebase(self, base: dict) -> None:
        """Fields every later heartbeat carries (the trace key, once the source is hashed)."""
        self._base = dict(base)

    def step(self, details: dict | str, **extra) -> None:
        if isinstance(details, str):
            details = {"step": details}
        # Resume fields (the staged model's sha256) are kept once known, whatever the later step.
        kept = {k: v for k, v in self.details.items() if k == "modelSha256"}
        self.details = {**self._base, **kept, **details, **extra}
        activity.heartbeat(self.details)
        if activity.is_cancelled():
            raise CancelledError(f"cancelled during {self.details.get('step')}")

    def _beat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            activity.heartbeat(self.details)


def _default_work_dir(store: ArtifactStore) -> Path:
    if os.environ.get("STOWAGE_TRACER_WORK"):
        return Path(os.environ["STOWAGE_TRACER_WORK"])
    # Beside a local artifact root (.stowage/tracer-work), so it goes where the rest of the state goes.
    if isinstance(store, LocalArtifactStore):
        return store.directory.parent / "tracer-work"
    return Path(tempfile.gettempdir()) / "stowage-tracer-work"


def _previous_details(info: activity.Info) -> dict:
    details = info.heartbeat_details
    return details[0] if details and isinstance(details[0], dict) else {}


def _staged(staging: Path, previous: dict, trace_key: str) -> dict | None:
    """A predecessor attempt's staged trace, if its heartbeat says it finished tracing and the file verifies."""
    if previous.get("traceKey") != trace_key or "modelSha256" not in previous:
        return None
    marker, model = staging / "staged.json", staging / "model.pt"
    if not (marker.exists() and model.exists() and (staging / "tokenizer").is_dir()):
        return None
    if _sha256_file(model) != previous["modelSha256"]:
        return None
    return json.loads(marker.read_text())


def load_tokenizer_dir(path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _timing_settings(settings: dict | None) -> dict:
    """The profiling settings that change the timings (not the traffic a demand is computed for)."""
    return {k: v for k, v in (settings or {}).items() if k != "expectedRequestsPerSecond"}


def _profile_copy_of(source: dict, origin: dict, model_id: str, trace_key: str) -> dict:
    reason = "same traced graph and parameter size: the representative's timings and memory"
    return {
        **source,
        "modelId": model_id,
        "traceKey": trace_key,
        "reusedFrom": {"modelId": origin["modelId"], "traceKey": origin["traceKey"], "reason": reason},
    }


def _graph_record_key(processor: str, key: str) -> str:
    return check_key(f"graphs/{processor}/{key}.json")


def _stage(staging: Path, tokenizer, traced, check: dict, trace_seconds: float, graph: dict | None) -> None:
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "tokenizer").mkdir(parents=True)
    tokenizer.save_pretrained(str(staging / "tokenizer"))
    torch.jit.save(traced, str(staging / "model.pt"))
    # Written last: its presence says the staged trace is complete.
    (staging / "staged.json").write_text(
        json.dumps(
            {"outputCheck": check, "traceSeconds": trace_seconds, "traceKey": staging.name, "graph": graph}
        )
    )


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "message", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _json(document: dict) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode()


def _version(package: str | None) -> str | None:
    if package is None:
        return None
    try:
        return version(package)
    except PackageNotFoundError:
        return None
