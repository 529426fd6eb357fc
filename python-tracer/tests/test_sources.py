"""Sources are checked file by file, and weights load only through loaders that cannot run code.

Two probes show that nothing outside the allowed roots is opened. A regular file outside is a real model
file (what the tracer read and traced before this check) whose access time is set far in the past, so any
read moves it (relatime updates an atime older than a day). A FIFO blocks whoever opens it for reading
until a writer comes: each trace runs in a thread, and if it has not finished in time the test opens the
writing end itself, which frees the reader, and fails.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
import torch
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from stowage_tracer.activities.trace import TracerActivities
from stowage_tracer.artifacts import ArtifactStore
from stowage_tracer.devices import HostDevices
from stowage_tracer.models.tiny import make_tiny_model
from stowage_tracer.tracing.confine import confined_files
from stowage_tracer.wire import unsafe_character

SEQ = 16
CPU_ONLY = HostDevices(cuda_available=False, neuron_available=False, cuda=[], neuron_cores=0)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One tiny model, copied into each test's own root (building one takes a second)."""
    return make_tiny_model(tmp_path_factory.mktemp("template") / "tiny", seed=7)


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def outside(tmp_path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder.resolve()


def copy_model(template: Path, root: Path, name="m") -> Path:
    return Path(shutil.copytree(template, root / "sources" / name))


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


LONG_AGO = 946_684_800  # 2000-01-01


def unread(path: Path, copy_of: Path | None = None) -> Path:
    """A regular file (a copy of `copy_of`) whose access time shows whether it is read from now on."""
    if copy_of is not None:
        shutil.copy(copy_of, path)
    else:
        path.write_text("outside")
    os.utime(path, (LONG_AGO, path.stat().st_mtime))
    return path


@pytest.fixture(scope="module", autouse=True)
def reads_move_atime(tmp_path_factory):
    """The atime probe is only evidence if a read moves the atime on this filesystem: check it once."""
    probe = unread(tmp_path_factory.mktemp("probe") / "probe")
    probe.read_bytes()
    assert probe.stat().st_atime != LONG_AGO, "this filesystem records no reads (noatime): the probe is blind"


def request(source: Path | str, model_id="m") -> dict:
    return {
        "modelId": model_id,
        "source": str(source),
        "processor": "cpu",
        "options": {"sequenceLength": SEQ, "profile": {"iterations": 2, "warmup": 0}},
    }


def trace(root: Path, payload: dict, outside: tuple[Path, ...] = (), limit_s: float = 120) -> dict:
    """The activity's result, or the ApplicationError it raised; fails if it read any of `outside`."""
    acts = TracerActivities("cpu", CPU_ONLY, ArtifactStore.from_uri(str(root)), work_dir=root.parent / "w")
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = ActivityEnvironment().run(acts.trace_model, payload)
        except BaseException as err:
            outcome["error"] = err

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit_s)
    opened = []
    for path in outside:
        if not path.is_fifo():
            if path.stat().st_atime != LONG_AGO:
                opened.append(path)
            continue
        try:  # succeeds only while some reader holds the FIFO open, and frees that reader
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            opened.append(path)
        except OSError as err:
            assert err.errno == errno.ENXIO, err
    worker.join(limit_s)
    assert not opened, f"the tracer opened {opened}, outside the allowed roots"
    assert not worker.is_alive(), "the trace did not finish"
    outcome["traces_run"] = acts.traces_run
    return outcome


def refused(outcome: dict, error_type: str) -> ApplicationError:
    error = outcome.get("error")
    assert isinstance(error, ApplicationError), outcome
    assert error.type == error_type and error.non_retryable, error
    assert outcome["traces_run"] == 0
    return error


# --- every file resolves inside an allowed root ---


def test_a_weights_file_linked_outside_the_root_is_refused_unopened(template, root, outside):
    source = copy_model(template, root)
    target = unread(outside / "model.safetensors", copy_of=source / "model.safetensors")
    (source / "model.safetensors").unlink()
    (source / "model.safetensors").symlink_to(target)
    error = refused(trace(root, request(source), outside=(target,)), "InvalidInput")
    assert f"model.safetensors is a symlink to {target}, outside the allowed roots" in str(error)
    assert not (root / "models").exists()


def test_a_config_linked_outside_is_refused_unopened(template, root, outside):
    source = copy_model(template, root)
    target = unread(outside / "config.json", copy_of=source / "config.json")
    (source / "config.json").unlink()
    (source / "config.json").symlink_to(target)
    error = refused(trace(root, request(source), outside=(target,)), "InvalidInput")
    assert f"config.json is a symlink to {target}, outside the allowed roots" in str(error)


def test_a_folder_linked_to_etc_is_refused(template, root):
    source = copy_model(template, root)
    (source / "etc").symlink_to("/etc")
    error = refused(trace(root, request(source)), "InvalidInput")
    assert "etc is a symlink to /etc, outside the allowed roots" in str(error)


def test_a_deep_file_linked_outside_is_named_by_its_path_in_the_source(template, root, outside):
    source = copy_model(template, root)
    target = unread(outside / "secret")
    (source / "extra" / "deeper").mkdir(parents=True)
    (source / "extra" / "deeper" / "notes.txt").symlink_to(target)
    error = refused(trace(root, request(source), outside=(target,)), "InvalidInput")
    assert f"extra/deeper/notes.txt is a symlink to {target}" in str(error)


def test_a_relative_link_that_climbs_out_of_the_root_is_refused(template, root, outside):
    source = copy_model(template, root)
    target = unread(outside / "vocab.txt", copy_of=source / "vocab.txt")
    (source / "vocab.txt").unlink()
    (source / "vocab.txt").symlink_to(Path("..", "..", "..", "outside", "vocab.txt"))
    error = refused(trace(root, request(source), outside=(target,)), "InvalidInput")
    assert f"vocab.txt is a symlink to {target}" in str(error)


def test_a_link_to_a_folder_outside_is_refused_before_its_files_are_listed(template, root, outside):
    source = copy_model(template, root)
    probes = (unread(outside / "added_tokens.json"), fifo(outside / "pytorch_model.bin"))
    (source / "weights").symlink_to(outside, target_is_directory=True)
    error = refused(trace(root, request(source), outside=probes), "InvalidInput")
    assert f"weights is a symlink to {outside}" in str(error)


def test_a_fifo_inside_the_source_is_refused_unopened(template, root):
    source = copy_model(template, root)
    pipe = fifo(source / "added_tokens.json")
    error = refused(trace(root, request(source), outside=(pipe,)), "InvalidInput")
    assert "added_tokens.json is a FIFO, not a regular file" in str(error)


def test_a_broken_link_is_refused(template, root):
    source = copy_model(template, root)
    (source / "special_tokens_map.json").unlink()
    (source / "special_tokens_map.json").symlink_to(source / "gone.json")
    error = refused(trace(root, request(source)), "InvalidInput")
    assert "special_tokens_map.json is a broken link" in str(error)


def test_the_tokenizer_beside_a_torchscript_file_is_checked_too(template, root, outside):
    folder = root / "sources" / "scripted"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"never read: the check refuses first")
    target = unread(outside / "vocab.txt", copy_of=template / "vocab.txt")
    (folder / "tokenizer" / "vocab.txt").symlink_to(target)
    error = refused(trace(root, request(folder / "model.pt"), outside=(target,)), "InvalidInput")
    assert f"vocab.txt is a symlink to {target}" in str(error)


@pytest.mark.parametrize("key", ["tokenizer_file", "vocab_file"])
def test_a_tokenizer_config_that_names_a_file_outside_is_refused_unopened(template, root, outside, key):
    # transformers opens what these entries name as it is: tokenizer_file was read from outside before.
    source = copy_model(template, root)
    name = {"tokenizer_file": "tokenizer.json", "vocab_file": "vocab.txt"}[key]
    target = unread(outside / name, copy_of=source / name)
    config = json.loads((source / "tokenizer_config.json").read_text())
    (source / "tokenizer_config.json").write_text(json.dumps({**config, key: str(target)}))
    error = refused(trace(root, request(source), outside=(target,)), "InvalidInput")
    assert f'tokenizer_config.json names files by path ("{key}")' in str(error)


def test_fast_tokenizer_file_names_must_be_plain_names(template, root, outside):
    source = copy_model(template, root)
    target = unread(outside / "tokenizer.9.0.0.json", copy_of=source / "tokenizer.json")
    config = json.loads((source / "tokenizer_config.json").read_text())
    climb = f"../../../outside/{target.name}"
    (source / "tokenizer_config.json").write_text(json.dumps({**config, "fast_tokenizer_files": [climb]}))
    error = refused(trace(root, request(source), outside=(target,)), "InvalidInput")
    assert '("fast_tokenizer_files")' in str(error)


def test_links_that_stay_inside_the_roots_are_followed_and_traced(template, root, tmp_path, monkeypatch):
    # The Hugging Face cache's own layout: files linked into a blobs/ folder, all inside the root; plus
    # a link back up the tree (listed once, not walked forever) and a file in a STOWAGE_MODEL_ROOTS root.
    source = copy_model(template, root)
    blobs = root / "blobs"
    blobs.mkdir()
    shutil.move(source / "model.safetensors", blobs / "weights")
    (source / "model.safetensors").symlink_to(Path("..", "..", "blobs", "weights"))
    (source / "loop").symlink_to(".", target_is_directory=True)
    models = tmp_path / "model-root"
    models.mkdir()
    shutil.move(source / "vocab.txt", models / "vocab.txt")
    (source / "vocab.txt").symlink_to(models / "vocab.txt")
    monkeypatch.setenv("STOWAGE_MODEL_ROOTS", str(models))
    outcome = trace(root, request(source))
    assert "result" in outcome, outcome.get("error")
    assert outcome["result"]["outputCheck"]["passed"] and outcome["traces_run"] == 1


def test_the_listing_is_what_the_content_hash_covers(template, root):
    source = copy_model(template, root)
    (source / "sub").mkdir()
    (source / "sub" / "a.txt").write_text("a")
    files = confined_files(source, [root.resolve()], "s")
    assert files == sorted(files) and source / "sub" / "a.txt" in files and source / "config.json" in files
    assert all(f.is_file() for f in files)


# --- weights load only through loaders that cannot run code ---


class RunsCode:
    """What a hostile checkpoint holds: unpickling it calls os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickled_weights_model(template: Path, root: Path, name: str) -> Path:
    """The same tiny model with its weights as pytorch_model.bin (a pickle) instead of safetensors."""
    from transformers import BertForQuestionAnswering

    source = copy_model(template, root, name)
    (source / "model.safetensors").unlink()
    BertForQuestionAnswering.from_pretrained(str(template)).save_pretrained(
        str(source), safe_serialization=False
    )
    assert (source / "pytorch_model.bin").exists() and not (source / "model.safetensors").exists()
    return source


def test_plain_tensor_pickles_load_and_trace_like_safetensors(template, root):
    safe = trace(root, request(copy_model(template, root, "safe"), model_id="safe"))
    pickled = trace(root, request(pickled_weights_model(template, root, "pickled"), model_id="pickled"))
    assert pickled["result"]["outputCheck"]["passed"], pickled.get("error")
    # Same weights either way: the traced models agree, so the .bin path loaded every tensor.
    a, b = (torch.jit.load(r["result"]["artifact"]["modelUri"][len("file://") :]) for r in (safe, pickled))
    ids = torch.randint(0, 30, (1, SEQ))
    mask = torch.ones_like(ids)
    for x, y in zip(a(ids, mask), b(ids, mask), strict=True):
        torch.testing.assert_close(x, y)


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(template, root, tmp_path):
    source = pickled_weights_model(template, root, "hostile")
    marker = tmp_path / "pwned"
    torch.save({"bert.embeddings.word_embeddings.weight": RunsCode(marker)}, source / "pytorch_model.bin")
    error = refused(trace(root, request(source)), "UnsupportedModel")
    assert not marker.exists(), "the pickle ran code"
    message = str(error)
    assert "pytorch_model.bin" in message and "imports posix.system" in message, message
    assert "only safetensors or plain tensor pickles are loaded" in message
    # The control: plain unpickling of the same file does run it, so the file really was hostile.
    with zipfile.ZipFile(source / "pytorch_model.bin") as archive:
        data = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        pickle.loads(archive.read(data))
    assert marker.exists()


def test_with_safetensors_present_a_hostile_bin_beside_them_is_never_read(template, root, tmp_path):
    source = copy_model(template, root)
    marker = tmp_path / "pwned"
    torch.save({"w": RunsCode(marker)}, source / "pytorch_model.bin")
    outcome = trace(root, request(source))
    assert outcome["result"]["outputCheck"]["passed"], outcome.get("error")
    assert not marker.exists()


def test_a_hostile_pickle_given_as_torchscript_is_refused_and_runs_nothing(template, root, tmp_path):
    folder = root / "sources" / "scripted"
    (folder / "tokenizer").mkdir(parents=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(template / name, folder / "tokenizer" / name)
    marker = tmp_path / "pwned"
    torch.save(RunsCode(marker), folder / "model.pt")
    error = refused(trace(root, request(folder / "model.pt")), "UnsupportedModel")
    assert "is not loadable TorchScript" in str(error)
    assert not marker.exists(), "the pickle ran code"


def test_custom_code_in_a_source_is_never_run(template, root, tmp_path):
    # A Hugging Face folder may ship Python (auto_map): loading it would run that code on the worker.
    # Without model_type and tokenizer_class, that code is the only way to load this one.
    source = copy_model(template, root)
    marker = tmp_path / "pwned"
    (source / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    for name, entry in (
        ("config.json", {"AutoConfig": "evil.EvilConfig", "AutoModelForQuestionAnswering": "evil.EvilQA"}),
        ("tokenizer_config.json", {"AutoTokenizer": ["evil.EvilTokenizer", None]}),
    ):
        config = json.loads((source / name).read_text())
        config.pop("tokenizer_class", None)
        config.pop("model_type", None)
        (source / name).write_text(json.dumps({**config, "auto_map": entry}))
    error = refused(trace(root, request(source)), "ModelNotFound")
    assert "trust_remote_code" in str(error), error
    assert not marker.exists(), "the source's own code ran"


def test_a_shard_index_that_names_a_file_outside_the_folder_is_refused(template, root, outside):
    source = pickled_weights_model(template, root, "sharded")
    target = unread(outside / "shard.bin", copy_of=source / "pytorch_model.bin")
    (source / "pytorch_model.bin").unlink()
    index = {"metadata": {}, "weight_map": {"qa_outputs.weight": f"../../../outside/{target.name}"}}
    (source / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    error = refused(trace(root, request(source), outside=(target,)), "InvalidInput")
    assert "names shards that are not file names" in str(error)


# --- sources refuse control characters, bidi controls and lone surrogates ---

HOSTILE = {
    "NUL and terminal escapes": (
        "models/\x00\x1b[2J\x1b]0;owned\x07",
        "U+0000 (a control character) at character 8",
    ),
    "a lone surrogate": ("models/\ud800x", "U+D800 (a lone surrogate) at character 8"),
    "newline and right-to-left override": (
        "models/a\n\u202egpj.pt",
        "U+000A (a control character) at character 9 and 1 more",
    ),
    "a C1 control": ("models/\x9b31m", "U+009B (a control character) at character 8"),
    "a bidi isolate": ("bert\u2066-base", "U+2066 (a bidi control (LEFT-TO-RIGHT ISOLATE)) at character 5"),
    "a line separator": ("a\u2028b", "U+2028 (a line separator) at character 2"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_source_with_hostile_characters_is_refused_by_code_point(case, root):
    text, says = HOSTILE[case]
    error = refused(trace(root, request(text)), "InvalidInput")
    message = str(error)
    assert "source" in message and says in message, message
    bad = [c for c in message if unsafe_character(c)]
    assert not bad, f"the message echoes {[hex(ord(c)) for c in bad]}"


def test_the_rule_allows_ordinary_sources():
    for text in (
        "bert-base-uncased",
        "s3://bucket/models/bert",
        "./sources/tiny-0",
        "/data/Modèles/日本語 😀",
    ):
        assert unsafe_character(text) is None, text
