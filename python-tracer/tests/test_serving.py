"""The model server as a real uvicorn process on loopback, serving tiny traced BERT-QA models."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stowage_tracer.serving.model import ModelSpec, ServedModel
from stowage_tracer.serving.tiny_artifacts import build

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["qa-a", "qa-b", "qa-c"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, data: bytes | None = None, content_type: str = "application/json") -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, headers={"content-type": content_type} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("artifacts")
    return {m: build(root, m) for m in MODELS}


@pytest.fixture(scope="module")
def server(artifacts, tmp_path_factory):
    spec_file = tmp_path_factory.mktemp("server") / "models.json"
    spec_file.write_text(
        json.dumps({"models": [{"modelId": m, "path": str(p)} for m, p in artifacts.items()]})
    )
    port = _free_port()
    proc = subprocess.Popen(
        # Two workers: the tests below also check that passes running side by side answer as one alone.
        [
            sys.executable,
            "-m",
            "stowage_tracer",
            "serve",
            "--models",
            str(spec_file),
            "--port",
            str(port),
            "--workers",
            "2",
            "--threads",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"server exited: {proc.stderr.read().decode()[-2000:]}"
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server never became ready"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_answers_get_and_post_like_the_post(server):
    status, body = _get(f"{server}/predictions/qa-a?seq_0=Paris%20is%20in%20France&seq_1=where")
    assert status == 200
    answer = json.loads(body)
    assert answer["modelId"] == "qa-a" and isinstance(answer["answer"], str)
    status, body = _get(
        f"{server}/predictions/qa-a", json.dumps({"seq_0": "Paris is in France", "seq_1": "where"}).encode()
    )
    assert status == 200 and json.loads(body)["answer"] == answer["answer"]
    # The post's curl smoke test names no text: the sample question is answered.
    assert _get(f"{server}/predictions/qa-b")[0] == 200


def test_unknown_model_is_404_with_a_message(server):
    status, body = _get(f"{server}/predictions/nope")
    assert status == 404
    assert "nope" in json.loads(body)["detail"] and "qa-a" in json.loads(body)["detail"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"seq_0": 5}', "application/json"),
        (b'{"seq_0": ""}', "application/json"),
        (b'{"seq_0": "a", "extra": 1}', "application/json"),
        (b"[1, 2]", "application/json"),
        (json.dumps({"seq_0": "x" * 20_000}).encode(), "application/json"),
    ],
)
def test_malformed_post_is_422_never_500(server, body, content_type):
    assert _get(f"{server}/predictions/qa-a", body, content_type)[0] == 422


def test_malformed_get_is_422(server):
    assert _get(f"{server}/predictions/qa-a?seq_0=")[0] == 422


def test_readyz_healthz_and_models(server):
    assert _get(f"{server}/healthz")[0] == 200
    status, body = _get(f"{server}/readyz")
    assert status == 200 and json.loads(body) == {"ready": True, "loaded": 3, "assigned": 3}
    listed = json.loads(_get(f"{server}/models")[1])
    assert [m["modelId"] for m in listed["models"]] == MODELS
    assert all(m["loaded"] and m["memoryBytes"] > 0 for m in listed["models"])
    assert listed["batching"] == {"maxBatch": 8, "windowMs": 2.0, "workers": 2, "threads": 1}


def test_metrics_count_requests_and_report_memory(server):
    for _ in range(3):
        _get(f"{server}/predictions/qa-c")
    _get(f"{server}/predictions/qa-c?seq_0=")
    text = _get(f"{server}/metrics")[1]
    assert 'stowage_requests_total{model="qa-c",status="200"} 3.0' in text
    assert 'stowage_requests_total{model="qa-c",status="422"} 1.0' in text
    assert 'stowage_request_latency_seconds_count{model="qa-c"} 3.0' in text
    assert 'stowage_model_memory_bytes{model="qa-a"}' in text
    assert "stowage_process_resident_bytes" in text


def test_concurrent_requests_are_batched_and_answer_as_unbatched(server, artifacts):
    questions = [
        (f"paris london city {i % 7} is a company", ["who", "where", "what"][i % 3]) for i in range(24)
    ]
    # Reference answers: the same model, one question per forward pass, in this process.
    reference = ServedModel(ModelSpec("qa-b", artifacts["qa-b"]))
    expected = [reference.predict([q])[0]["answer"] for q in questions]

    def ask(q):
        return json.loads(
            _get(f"{server}/predictions/qa-b", json.dumps({"seq_0": q[0], "seq_1": q[1]}).encode())[1]
        )

    with ThreadPoolExecutor(12) as pool:
        got = list(pool.map(ask, questions))
    assert [g["answer"] for g in got] == expected
    text = _get(f"{server}/metrics")[1]
    # Some forward pass held more than one request (24 concurrent requests, batches up to 8).
    one = next(
        line
        for line in text.splitlines()
        if line.startswith('stowage_batch_size_bucket{le="1.0",model="qa-b"}')
    )
    count = next(
        line for line in text.splitlines() if line.startswith('stowage_batch_size_count{model="qa-b"}')
    )
    assert float(one.split()[-1]) < float(count.split()[-1])


def test_batched_forward_pass_matches_one_at_a_time(artifacts):
    model = ServedModel(ModelSpec("qa-a", artifacts["qa-a"]))
    model.warm(8)
    assert model.dynamic_batch and model.dynamic_length
    questions = [(f"new york city {i} paris", "where") for i in range(8)]
    batched = model.predict(questions)
    single = [model.predict([q])[0] for q in questions]
    assert [b["answer"] for b in batched] == [s["answer"] for s in single]
    assert [b["start"] for b in batched] == [s["start"] for s in single]


def test_cutting_the_padding_changes_no_answer(artifacts):
    trimmed = ServedModel(ModelSpec("qa-c", artifacts["qa-c"]))
    trimmed.warm(8)
    padded = ServedModel(ModelSpec("qa-c", artifacts["qa-c"]))
    padded.warm(1)
    padded.dynamic_length = False  # the post's way: every question padded to the traced length
    questions = [
        ("paris is a city", "where"),
        ("new york city is where the company is based", "who is based"),
    ]
    for q in questions:
        a, b = trimmed.predict([q])[0], padded.predict([q])[0]
        assert (a["answer"], a["start"], a["end"]) == (b["answer"], b["start"], b["end"])


def test_the_serve_command_loads_without_the_temporal_sdk() -> None:
    """The model-server image's base installs no temporalio (images/base/*/Containerfile): the `serve`
    entry and every module the server loads must import without it."""
    code = (
        "import sys; sys.modules['temporalio'] = None\n"
        "import stowage_tracer.__main__, stowage_tracer.serving.app, stowage_tracer.serving.model\n"
        "print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
