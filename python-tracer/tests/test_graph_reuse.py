"""Graph reuse: one full trace per architecture, every sibling's own weights swapped into that graph and
checked against its own eager model; anything that does not fit is traced in full and says why."""

import json
from pathlib import Path

import pytest
import torch
from temporalio.testing import ActivityEnvironment

from stowage_tracer.activities.trace import TracerActivities
from stowage_tracer.artifacts import ArtifactStore
from stowage_tracer.devices import HostDevices
from stowage_tracer.models.tiny import make_tiny_model
from stowage_tracer.tracing import compile as compiling
from stowage_tracer.tracing import graphs
from stowage_tracer.tracing import profile as profiling
from stowage_tracer.tracing.sources import load_eager, resolve

SEQ = 16
CPU_ONLY = HostDevices(cuda_available=False, neuron_available=False, cuda=[], neuron_cores=0)


def tracer(root: Path) -> TracerActivities:
    return TracerActivities("cpu", CPU_ONLY, ArtifactStore.from_uri(str(root)), work_dir=root.parent / "work")


def request(source: Path) -> dict:
    return {
        "modelId": source.name,
        "source": str(source),
        "processor": "cpu",
        "options": {"sequenceLength": SEQ, "profile": {"iterations": 3, "warmup": 1, "maxRounds": 3}},
    }


def trace(acts: TracerActivities, source: Path) -> dict:
    return ActivityEnvironment().run(acts.trace_model, request(source))


def own_outputs_agree(root: Path, result: dict, source: Path) -> float:
    """The stored graph against the model's own eager outputs on fresh random inputs, in a fresh load."""
    model_file = Path(result["artifact"]["modelUri"][len("file://") :])
    graph = torch.jit.load(str(model_file)).eval()
    eager = load_eager(resolve(str(source), ArtifactStore.from_uri(str(root))), "question-answering")
    ids = torch.randint(0, 40, (1, SEQ), generator=torch.Generator().manual_seed(7))
    batches = graphs.check_inputs((ids, torch.ones_like(ids)), 40, seed=11)
    return max(
        compiling.check_outputs(compiling.run(eager, b, "cpu"), compiling.run(graph, b, "cpu"), 1e-4)
        for b in batches
    )


@pytest.fixture()
def trusted_profiles(monkeypatch):
    # Whether a profile is trusted depends on the machine's load: the cached run then re-measures nothing.
    monkeypatch.setattr(profiling, "trusted", lambda profile: True)


def test_siblings_reuse_the_first_graph_with_their_own_weights(tmp_path, trusted_profiles):
    root = tmp_path / "artifacts"
    sources = [make_tiny_model(root / "sources" / f"qa-{i}", seed=i) for i in range(3)]
    acts = tracer(root)
    results = [trace(acts, s) for s in sources]

    assert acts.traces_run == 3 and acts.graphs_reused == 2
    first, *siblings = results
    assert first["graph"]["reused"] is False and first["graph"]["fallback"] is None
    for result, source in zip(siblings, sources[1:], strict=True):
        graph = result["graph"]
        assert graph["reused"] is True and graph["key"] == first["graph"]["key"]
        assert graph["from"] == {"modelId": "qa-0", "traceKey": first["artifact"]["traceKey"]}
        assert graph["checkedInputs"] == graphs.CHECK_INPUTS
        assert result["outputCheck"]["maxAbsDiff"] <= 1e-4
        assert own_outputs_agree(root, result, source) <= 1e-4
        profile = json.loads(Path(result["artifact"]["profileUri"][len("file://") :]).read_text())
        assert profile["modelId"] == source.name and profile["reusedFrom"]["modelId"] == "qa-0"
        assert result["demand"] == profile["demand"]
    # Each stored graph carries its own model's weights, not the representative's.
    stored = [torch.jit.load(r["artifact"]["modelUri"][len("file://") :]) for r in results]
    ids = torch.ones(1, SEQ, dtype=torch.long)
    outs = [m(ids, torch.ones_like(ids))[0] for m in stored]
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[1], outs[2])

    again = tracer(root)
    assert all(trace(again, s)["cached"] for s in sources)
    assert again.traces_run == 0 and again.graphs_reused == 0


def test_a_different_architecture_under_the_same_key_falls_back_to_a_full_trace(tmp_path, monkeypatch):
    monkeypatch.setattr(graphs, "graph_key", lambda *args: "0" * 20)
    root = tmp_path / "artifacts"
    small = make_tiny_model(root / "sources" / "qa-small", seed=0)
    wider = make_tiny_model(root / "sources" / "qa-wider", seed=1, hidden=48, heads=3)
    acts = tracer(root)
    trace(acts, small)
    result = trace(acts, wider)

    assert acts.traces_run == 2 and acts.graphs_reused == 0
    assert result["graph"]["reused"] is False
    assert (
        "differ in shape" in result["graph"]["fallback"] and "traced in full" in result["graph"]["fallback"]
    )
    assert result["outputCheck"]["maxAbsDiff"] <= 1e-4
    assert own_outputs_agree(root, result, wider) <= 1e-4


def test_same_shapes_but_other_computation_fails_the_check_and_is_traced_in_full(tmp_path, monkeypatch):
    monkeypatch.setattr(graphs, "graph_key", lambda *args: "1" * 20)
    root = tmp_path / "artifacts"
    gelu = make_tiny_model(root / "sources" / "qa-gelu", seed=0)
    relu = make_tiny_model(root / "sources" / "qa-relu", seed=1)
    config = json.loads((relu / "config.json").read_text())
    (relu / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    acts = tracer(root)
    trace(acts, gelu)
    result = trace(acts, relu)

    assert acts.traces_run == 2 and acts.graphs_reused == 0
    assert result["graph"]["reused"] is False and "differ from eager" in result["graph"]["fallback"]
    assert own_outputs_agree(root, result, relu) <= 1e-4


def test_the_graph_key_ignores_the_checkpoint_name_but_not_the_shape(tmp_path):
    from stowage_tracer.wire import TraceOptions

    a = make_tiny_model(tmp_path / "a", seed=0)
    b = make_tiny_model(tmp_path / "b", seed=1)
    c = make_tiny_model(tmp_path / "c", seed=0, layers=3)
    config = json.loads((b / "config.json").read_text())
    (b / "config.json").write_text(json.dumps({**config, "_name_or_path": "someone/fine-tune"}))

    def key(folder, **options):
        return graphs.graph_key(folder / "config.json", "cpu", TraceOptions(**options), {"torch": "x"})

    assert key(a) == key(b) != key(c)
    assert key(a) != key(a, sequence_length=64)


def test_swap_refuses_a_model_whose_tensors_the_graph_does_not_hold(tmp_path):
    source = make_tiny_model(tmp_path / "a", seed=0)
    model = load_eager(resolve(str(source), ArtifactStore.from_uri(str(tmp_path))), "question-answering")
    ids = torch.ones(1, SEQ, dtype=torch.long)
    graph = torch.jit.trace(compiling.Logits(model), (ids, torch.ones_like(ids)), check_trace=False)
    model.qa_outputs = torch.nn.Sequential(model.qa_outputs)
    with pytest.raises(graphs.WeightsDoNotFitError, match="different tensors"):
        graphs.swap_weights(graph, model, "cpu")


def test_a_contended_copy_is_measured_again_through_its_representative_only(tmp_path, monkeypatch):
    root = tmp_path / "artifacts"
    sources = [make_tiny_model(root / "sources" / f"qa-{i}", seed=i) for i in range(2)]
    acts = tracer(root)
    first, copy = (trace(acts, s) for s in sources)
    copy_file = Path(copy["artifact"]["profileUri"][len("file://") :])
    stored = json.loads(copy_file.read_text())
    copy_file.write_text(json.dumps({**stored, "measurement": {**stored["measurement"], "contended": True}}))

    # The representative is not trusted either: the copy stays as it is, nothing is measured.
    monkeypatch.setattr(profiling, "trusted", lambda p: not p["measurement"]["contended"])
    monkeypatch.setattr(profiling, "measure", lambda *a, **k: pytest.fail("a copy was profiled on its own"))
    rep_file = Path(first["artifact"]["profileUri"][len("file://") :])
    rep = json.loads(rep_file.read_text())
    rep_file.write_text(json.dumps({**rep, "measurement": {**rep["measurement"], "contended": True}}))
    assert trace(tracer(root), sources[1])["cached"] is True
    assert json.loads(copy_file.read_text())["measurement"]["contended"] is True

    # Once the representative's profile is trusted, the copy takes it again.
    rep_file.write_text(json.dumps({**rep, "measurement": {**rep["measurement"], "contended": False}}))
    again = trace(tracer(root), sources[1])
    refreshed = json.loads(copy_file.read_text())
    assert refreshed["measurement"]["contended"] is False and refreshed["reusedFrom"]["modelId"] == "qa-0"
    assert again["demand"] == refreshed["demand"]


def test_a_sibling_with_other_traffic_shares_the_timings_but_has_its_own_demand(tmp_path):
    root = tmp_path / "artifacts"
    sources = [make_tiny_model(root / "sources" / f"qa-{i}", seed=i) for i in range(2)]
    acts = tracer(root)
    first = trace(acts, sources[0])
    busy = request(sources[1])
    busy["options"]["profile"]["expectedRequestsPerSecond"] = 4.0
    second = ActivityEnvironment().run(acts.trace_model, busy)

    assert second["graph"]["reused"] is True and acts.profiles_reused == 1
    assert second["demand"]["expectedRequestsPerSecond"] == 4.0
    if first["demand"]["compute"] is not None:
        assert second["demand"]["compute"] == pytest.approx(4 * first["demand"]["compute"], rel=1e-3)
