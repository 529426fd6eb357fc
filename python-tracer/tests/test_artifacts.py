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
    stub.add_response(
        "put_object", {}, {"Bucket": "bucket", "Key": "fleet/models/m/cpu/k/profile.json", "Body": b"{}"}
    )
    with stub:
        assert (
            store.write_bytes("models/m/cpu/k/profile.json", b"{}")
            == "s3://bucket/fleet/models/m/cpu/k/profile.json"
        )
    stub.assert_no_pending_responses()
