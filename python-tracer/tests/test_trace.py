"""traceModel / profileModel on a tiny BERT QA built here, through the same from_pretrained path as bert-base."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import ActivityEnvironment

from stowage_tracer.activities.trace import TracerActivities
from stowage_tracer.artifacts import ArtifactStore
from stowage_tracer.devices import HostDevices, discover
from stowage_tracer.models.tiny import make_tiny_model

SEQ = 24
CPU_ONLY = HostDevices(cuda_available=False, neuron_available=False, cuda=[], neuron_cores=0)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def source(root) -> Path:
    # Inside the artifact root: local sources anywhere else are refused.
    return make_tiny_model(root / "sources" / "tiny-0", seed=0)


def tracer(root: Path, processor="cpu", devices=CPU_ONLY) -> TracerActivities:
    return TracerActivities(
        processor, devices, ArtifactStore.from_uri(str(root)), work_dir=root.parent / "work"
    )


def request(source: Path, model_id="tiny-0", **options) -> dict:
    return {
        "modelId": model_id,
        "source": str(source),
        "processor": options.pop("processor", "cpu"),
        "options": {"sequenceLength": SEQ, "profile": {"iterations": 5, "warmup": 1}, **options},
    }


def file_of(uri: str) -> Path:
    assert uri.startswith("file://")
    return Path(uri[len("file://") :])


def test_trace_reloads_in_a_fresh_process_with_eager_outputs(root, source, tmp_path):
    acts = tracer(root)
    result = ActivityEnvironment().run(acts.trace_model, request(source))
    assert result["cached"] is False and acts.traces_run == 1
    assert result["outputCheck"]["passed"] and result["outputCheck"]["maxAbsDiff"] <= 1e-4
    model_pt = file_of(result["artifact"]["modelUri"])
    assert model_pt.parent.relative_to(root).parts == (
        "models",
        "tiny-0",
        "cpu",
        result["artifact"]["traceKey"],
    )

    from transformers import AutoTokenizer, BertForQuestionAnswering

    tokenizer = AutoTokenizer.from_pretrained(str(model_pt.parent / "tokenizer"))
    enc = tokenizer(
        "Where is HuggingFace based?",
        "HuggingFace is based in New York City",
        padding="max_length",
        max_length=SEQ,
        return_tensors="pt",
    )
    torch.save({"ids": enc["input_ids"], "mask": enc["attention_mask"]}, tmp_path / "inputs.pt")
    with torch.no_grad():
        # The traced signature is (input_ids, attention_mask), as in the post: token types stay zero.
        eager = BertForQuestionAnswering.from_pretrained(str(source)).eval()(
            input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]
        )
    # Plain torch in a process that never imported transformers or the tracer.
    script = (
        "import sys, torch; m = torch.jit.load(sys.argv[1]); x = torch.load(sys.argv[2], weights_only=True);"
        "torch.save(m(x['ids'], x['mask']), sys.argv[3])"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(model_pt), str(tmp_path / "inputs.pt"), str(tmp_path / "out.pt")],
        check=True,
    )
    start, end = torch.load(tmp_path / "out.pt", weights_only=True)
    torch.testing.assert_close(start, eager.start_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(end, eager.end_logits, atol=1e-4, rtol=1e-4)


def test_manifest_lists_files_with_hashes_and_the_tokenizer(root, source):
    result = ActivityEnvironment().run(tracer(root).trace_model, request(source))
    manifest = json.loads(file_of(result["artifact"]["manifestUri"]).read_text())
    assert manifest["modelId"] == "tiny-0" and manifest["processor"] == "cpu"
    assert manifest["sequenceLength"] == SEQ and manifest["batchSize"] == 1
    assert manifest["inputs"][0] == {"name": "input_ids", "dtype": "int64", "shape": [1, SEQ]}
    assert [o["name"] for o in manifest["outputs"]] == ["start_logits", "end_logits"]
    assert manifest["tokenizer"] == "tokenizer" and "tokenizer/vocab.txt" in manifest["files"]
    assert manifest["files"]["model.pt"]["bytes"] == file_of(result["artifact"]["modelUri"]).stat().st_size
    assert manifest["torchVersion"] == torch.__version__ and manifest["transformersVersion"]


def test_second_call_returns_the_cached_artifact_without_tracing(root, source):
    acts = tracer(root)
    first = ActivityEnvironment().run(acts.trace_model, request(source))
    second = ActivityEnvironment().run(acts.trace_model, request(source))
    assert second["cached"] is True
    assert second["artifact"] == first["artifact"]
    assert acts.traces_run == 0  # both answered from the store (the artifact exists from earlier tests)


def test_a_cached_trace_whose_profile_was_contended_is_profiled_again(tmp_path):
    # A root of its own: in the shared one this model would reuse tiny-0's graph and profile.
    root = tmp_path / "artifacts"
    source = make_tiny_model(root / "sources" / "tiny-0", seed=0)
    acts = tracer(root)
    first = ActivityEnvironment().run(acts.trace_model, request(source, model_id="tiny-reprofile"))
    profile_file = file_of(first["artifact"]["profileUri"])
    stored = json.loads(profile_file.read_text())
    stored["measurement"] = {**stored["measurement"], "contended": True, "cpuShare": 0.2}
    stored["measuredAt"] = "2000-01-01T00:00:00Z"
    profile_file.write_text(json.dumps(stored))
    again = ActivityEnvironment().run(acts.trace_model, request(source, model_id="tiny-reprofile"))
    assert again["cached"] is True and acts.traces_run == 1
    fresh = json.loads(profile_file.read_text())
    assert fresh["measuredAt"] != "2000-01-01T00:00:00Z"
    assert fresh["measurement"]["cpuShare"] != 0.2
    assert again["demand"] == fresh["demand"]


def test_a_corrupted_artifact_is_traced_again(root, source):
    acts = tracer(root)
    first = ActivityEnvironment().run(acts.trace_model, request(source, model_id="tiny-corrupt"))
    model_pt = file_of(first["artifact"]["modelUri"])
    model_pt.write_bytes(model_pt.read_bytes()[:-10])
    again = ActivityEnvironment().run(acts.trace_model, request(source, model_id="tiny-corrupt"))
    assert again["cached"] is False and acts.traces_run == 2


def test_different_options_get_a_different_trace_key(root, source):
    acts = tracer(root)
    a = ActivityEnvironment().run(acts.trace_model, request(source, model_id="tiny-keys"))
    b = ActivityEnvironment().run(acts.trace_model, request(source, model_id="tiny-keys", batchSize=2))
    assert a["artifact"]["traceKey"] != b["artifact"]["traceKey"]


def test_profile_json_has_measured_fields_units_and_demand(root, source):
    acts = tracer(root)
    traced = ActivityEnvironment().run(acts.trace_model, request(source))
    result = ActivityEnvironment().run(
        acts.profile_model,
        {
            "modelId": "tiny-0",
            "processor": "cpu",
            "traceKey": traced["artifact"]["traceKey"],
            "profile": {"batchSizes": [1, 4], "iterations": 10, "expectedRequestsPerSecond": 50},
        },
    )
    profile = json.loads(file_of(result["artifact"]["profileUri"]).read_text())
    assert profile == result["profile"]
    assert [row["batchSize"] for row in profile["latency"]] == [1, 4]
    for row in profile["latency"]:
        assert 0 < row["p50Ms"] <= row["p90Ms"] <= row["p99Ms"]
        assert row["iterations"] == 10 and row["throughputPerSecond"] > 0
        assert 1 <= row["rounds"] <= 10 and isinstance(row["stable"], bool)
        assert row["stable"] == (row["spreadPct"] is not None and row["spreadPct"] <= 5)
        assert 0 < row["cpuShare"] <= 1
    assert profile["loadSeconds"] > 0
    assert profile["memory"]["method"] == "process-rss-delta"
    assert profile["memory"]["hostResidentBytes"] >= profile["memory"]["parameterBytes"] > 0
    sustainable = profile["throughput"]["sustainablePerSecond"]
    assert sustainable == max(row["throughputPerSecond"] for row in profile["latency"])
    demand = profile["demand"]
    assert demand["expectedRequestsPerSecond"] == 50
    assert demand["compute"] == pytest.approx(50 / sustainable, rel=1e-3)
    assert demand["memoryGiB"] == pytest.approx(profile["memory"]["devicePeakBytes"] / 2**30, abs=1e-6)
    assert demand["forwardMs"] == profile["latency"][0]["meanMs"]
    measurement = profile["measurement"]
    assert measurement["stable"] == all(row["stable"] for row in profile["latency"])
    assert measurement["contended"] == (measurement["cpuShare"] < 0.8)
    assert ("note" in measurement) == measurement["contended"]
    assert demand["measurement"] == measurement
    assert profile["units"]["demand.memoryGiB|hostMemoryGiB"].startswith("GiB")


def test_profile_of_a_missing_artifact_is_non_retryable(root):
    with pytest.raises(ApplicationError) as caught:
        ActivityEnvironment().run(
            tracer(root).profile_model, {"modelId": "nope", "processor": "cpu", "traceKey": "abcdef0123"}
        )
    assert caught.value.non_retryable and caught.value.type == "ArtifactNotFound"


def _unknown_class_model(root: Path) -> Path:
    folder = root / "sources" / "unknown-class"
    if not folder.exists():
        make_tiny_model(folder, seed=1)
        config = json.loads((folder / "config.json").read_text())
        config["architectures"] = ["FluxCapacitorForQuestionAnswering"]
        (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("case", "error_type", "fragment"),
    [
        ("unknown model class", "UnsupportedModel", "FluxCapacitorForQuestionAnswering"),
        ("missing directory", "ModelNotFound", "does not exist"),
        ("outside the artifact root", "InvalidInput", "outside the artifact root"),
        ("sequence length 0", "InvalidInput", "options.sequenceLength"),
        ("negative sequence length", "InvalidInput", "options.sequenceLength"),
        ("batch size 0", "InvalidInput", "options.batchSize"),
        ("processor not served", "InvalidInput", "serves stowage-tracer-cpu, not gpu"),
        ("unknown processor", "InvalidInput", "processor"),
        ("model id that is a path", "InvalidInput", "modelId"),
    ],
)
def test_bad_input_is_non_retryable_and_writes_nothing(tmp_path, case, error_type, fragment):
    root = tmp_path / "artifacts"
    good = make_tiny_model(root / "sources" / "ok", seed=2) if case != "unknown model class" else None
    payload = {
        "unknown model class": lambda: request(_unknown_class_model(root)),
        "missing directory": lambda: request(root / "sources" / "absent"),
        "outside the artifact root": lambda: request(make_tiny_model(tmp_path / "elsewhere")),
        "sequence length 0": lambda: request(good, sequenceLength=0),
        "negative sequence length": lambda: request(good, sequenceLength=-5),
        "batch size 0": lambda: request(good, batchSize=0),
        "processor not served": lambda: request(good, processor="gpu"),
        "unknown processor": lambda: request(good, processor="tpu"),
        "model id that is a path": lambda: request(good, model_id="../escape"),
    }[case]()
    acts = tracer(root)
    with pytest.raises(ApplicationError) as caught:
        ActivityEnvironment().run(acts.trace_model, payload)
    assert caught.value.non_retryable, case
    assert caught.value.type == error_type
    assert fragment in str(caught.value)
    assert not (root / "models").exists() and acts.traces_run == 0


def test_a_retried_attempt_resumes_from_its_heartbeat_details(root, source):
    class WorkerDiedError(Exception):
        pass

    beats: list[dict] = []
    first = ActivityEnvironment()

    def die_while_profiling(*details):
        beats.append(details[0])
        if details[0].get("step") == "profile":
            raise WorkerDiedError()

    first.on_heartbeat = die_while_profiling
    acts = tracer(root)
    with pytest.raises(WorkerDiedError):
        first.run(acts.trace_model, request(source, model_id="tiny-resume"))
    assert acts.traces_run == 1 and "modelSha256" in beats[-1]

    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2, heartbeat_details=[beats[-1]])
    result = retry.run(acts.trace_model, request(source, model_id="tiny-resume"))
    assert result["resumedFrom"] == "profile" and result["attempt"] == 2 and result["cached"] is False
    assert acts.traces_run == 1  # the staged trace was reused, not redone
    assert file_of(result["artifact"]["modelUri"]).exists()


def test_stale_heartbeat_details_do_not_skip_tracing(root, source):
    acts = tracer(root)
    retry = ActivityEnvironment()
    stale = {"modelId": "tiny-stale", "traceKey": "0" * 20, "step": "profile", "modelSha256": "f" * 64}
    retry.info = dataclasses.replace(retry.info, attempt=3, heartbeat_details=[stale])
    result = retry.run(acts.trace_model, request(source, model_id="tiny-stale"))
    assert result["resumedFrom"] is None and acts.traces_run == 1


def test_cancellation_is_honoured_between_steps(tmp_path, source):
    root = tmp_path / "artifacts"
    model = make_tiny_model(root / "sources" / "m", seed=3)
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: details[0].get("step") == "trace" and env.cancel()
    acts = tracer(root)
    with pytest.raises(CancelledError):
        env.run(acts.trace_model, request(model))
    assert not (root / "models").exists()


def test_tiny_models_differ_by_seed(tmp_path):
    from transformers import BertForQuestionAnswering

    a = BertForQuestionAnswering.from_pretrained(str(make_tiny_model(tmp_path / "a", seed=0)))
    b = BertForQuestionAnswering.from_pretrained(str(make_tiny_model(tmp_path / "b", seed=1)))
    assert not torch.equal(a.qa_outputs.weight, b.qa_outputs.weight)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this host: the gpu path needs one")
def test_gpu_trace_uses_autocast_and_reports_cuda_memory(tmp_path):
    root = tmp_path / "artifacts"
    model = make_tiny_model(root / "sources" / "g", seed=4)
    acts = tracer(root, processor="gpu", devices=discover())
    result = ActivityEnvironment().run(acts.trace_model, request(model, processor="gpu"))
    manifest = json.loads(file_of(result["artifact"]["manifestUri"]).read_text())
    profile = json.loads(file_of(result["artifact"]["profileUri"]).read_text())
    assert manifest["precision"] == "fp16" and result["outputCheck"]["passed"]
    assert profile["memory"]["method"] == "cuda-allocator"
    assert profile["memory"]["devicePeakBytes"] > 0 and profile["demand"]["memoryGiB"] > 0


@pytest.mark.skipif(
    not discover().neuron_available, reason="no Inferentia device and Neuron SDK on this host"
)
def test_neuron_trace_compiles_for_inferentia(tmp_path):
    root = tmp_path / "artifacts"
    model = make_tiny_model(root / "sources" / "n", seed=5)
    acts = tracer(root, processor="inf", devices=discover())
    result = ActivityEnvironment().run(acts.trace_model, request(model, processor="inf"))
    assert result["outputCheck"]["passed"]


def test_a_torchscript_source_with_a_tokenizer_beside_it_is_accepted(root, source):
    acts = tracer(root)
    traced = ActivityEnvironment().run(acts.trace_model, request(source))
    model_pt = file_of(traced["artifact"]["modelUri"])  # tokenizer/ sits beside it
    result = ActivityEnvironment().run(acts.trace_model, request(model_pt, model_id="tiny-from-ts"))
    manifest = json.loads(file_of(result["artifact"]["manifestUri"]).read_text())
    assert manifest["source"]["kind"] == "torchscript" and result["outputCheck"]["passed"]
