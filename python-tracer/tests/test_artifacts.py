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
