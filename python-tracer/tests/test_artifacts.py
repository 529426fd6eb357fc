import hashlib

import pytest
from temporalio.exceptions import ApplicationError

from stowage_tracer.artifacts import ArtifactStore, LocalArtifactStore, model_key


def test_local_store_round_trip_and_uri(tmp_path):
    store = ArtifactStore.from_uri(str(tmp_path))
    assert isinstance(store, LocalArtifactStore)
    key = model_key("m0", "cpu", "abc", "model.pt")
    assert not store.exists(key)
    uri = store.write_bytes(key, b"weights")
    assert store.exists(key) and store.read_bytes(key) == b"weights"
    assert uri == (tmp_path / "models/m0/cpu/abc/model.pt").as_uri()
    assert store.key_of(uri) == key
    assert store.local_dir("models/m0/cpu/abc") == tmp_path / "models/m0/cpu/abc"
    # Atomic writes leave no temp files behind.
    assert [p.name for p in (tmp_path / "models/m0/cpu/abc").iterdir()] == ["model.pt"]


def test_file_uri_root(tmp_path):
    store = ArtifactStore.from_uri(tmp_path.as_uri())
    store.write_bytes("a/b.json", b"{}")
    assert (tmp_path / "a" / "b.json").read_bytes() == b"{}"


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a/../../b", "a\\b", "", "a//b", "./a", ".hidden"])
def test_bad_keys_are_non_retryable(tmp_path, key):
    store = ArtifactStore.from_uri(str(tmp_path))
    with pytest.raises(ApplicationError) as caught:
        store.write_bytes(key, b"x")
    assert caught.value.non_retryable and caught.value.type == "InvalidArtifactKey"
    assert list(tmp_path.iterdir()) == []


def test_uri_outside_root_is_rejected(tmp_path):
    store = ArtifactStore.from_uri(str(tmp_path / "root"))
    with pytest.raises(ApplicationError):
        store.key_of((tmp_path / "elsewhere" / "x").as_uri())


def test_s3_root_is_parsed_without_network():
    store = ArtifactStore.from_uri("s3://bucket/some/prefix")
    assert store.uri("models/m/cpu/k/model.pt") == "s3://bucket/some/prefix/models/m/cpu/k/model.pt"


def _s3_store(monkeypatch):
    from botocore.stub import Stubber

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = ArtifactStore.from_uri("s3://bucket/fleet")
    return store, Stubber(store._s3)


def test_s3_missing_object_is_absent_and_transient_errors_are_retryable(monkeypatch):
    store, stub = _s3_store(monkeypatch)
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
    stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
    stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
    with stub:
        assert store.exists("models/m/cpu/k/manifest.json") is False
        with pytest.raises(ApplicationError) as transient:
            store.read_bytes("models/m/cpu/k/model.pt")
        with pytest.raises(ApplicationError) as denied:
            store.read_bytes("models/m/cpu/k/model.pt")
    assert transient.value.type == "ArtifactIO" and not transient.value.non_retryable
    assert denied.value.type == "ArtifactAccess" and denied.value.non_retryable


def test_s3_write_puts_under_the_prefix(monkeypatch):
    store, stub = _s3_store(monkeypatch)
    key = "fleet/models/m/cpu/k/profile.json"
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
    stub.add_response(
        "put_object",
        {},
        {
            "Bucket": "bucket",
            "Key": key,
            "Body": b"{}",
            # SHA-256 of b"{}", as S3 wants it (base64) and as the stores keep it (hex metadata).
            "ChecksumSHA256": "RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=",
            "Metadata": {"sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
        },
    )
    with stub:
        assert (
            store.write_bytes("models/m/cpu/k/profile.json", b"{}")
            == "s3://bucket/fleet/models/m/cpu/k/profile.json"
        )
    stub.assert_no_pending_responses()


# Against moto's S3 (the project's only AWS stand-in; test/support/moto.ts runs the same server for mocha).


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_store(moto_endpoint, monkeypatch, tmp_path):
    import uuid as _uuid

    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("STOWAGE_S3_ENDPOINT", moto_endpoint)
    bucket = f"stowage-py-{_uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    monkeypatch.setenv("STOWAGE_S3_CACHE", str(tmp_path / "cache"))
    return ArtifactStore.from_uri(f"s3://{bucket}/fleet")


def test_s3_round_trip_through_the_configured_endpoint(moto_store):
    key = model_key("m0", "cpu", "abc", "model.pt")
    assert not moto_store.exists(key)
    uri = moto_store.write_bytes(key, b"weights")
    assert uri == f"{moto_store.root}/models/m0/cpu/abc/model.pt"
    assert moto_store.exists(key) and moto_store.read_bytes(key) == b"weights"
    assert moto_store.key_of(uri) == key
    head = moto_store._s3.head_object(Bucket=moto_store.bucket, Key=f"fleet/{key}")
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"weights").hexdigest()
    local = moto_store.local_dir("models/m0/cpu/abc")
    assert (local / "model.pt").read_bytes() == b"weights"


def test_s3_same_content_is_not_uploaded_again(moto_store):
    puts = []
    moto_store._s3.meta.events.register("before-call.s3.PutObject", lambda **kw: puts.append(kw))
    moto_store.write_bytes("runs/r1/report.json", b"{}")
    moto_store.write_bytes("runs/r1/report.json", b"{}")
    assert len(puts) == 1
    moto_store.write_bytes("runs/r1/report.json", b"{ }")
    assert len(puts) == 2 and moto_store.read_bytes("runs/r1/report.json") == b"{ }"


def test_s3_tampered_object_fails_its_checksum(moto_store):
    moto_store.write_bytes("models/m/cpu/k/model.pt", b"real")
    moto_store._s3.put_object(
        Bucket=moto_store.bucket,
        Key="fleet/models/m/cpu/k/model.pt",
        Body=b"fake",
        Metadata={"sha256": hashlib.sha256(b"real").hexdigest()},
    )
    with pytest.raises(ApplicationError) as caught:
        moto_store.read_bytes("models/m/cpu/k/model.pt")
    assert caught.value.type == "ArtifactChecksum" and "is corrupt" in str(caught.value)


def test_s3_missing_object_reads_as_file_not_found(moto_store):
    with pytest.raises(FileNotFoundError):
        moto_store.read_bytes("models/none/cpu/k/model.pt")
