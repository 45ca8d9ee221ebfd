"""Which files a source is read from: the parquet export, the raw-file fallback, CoVoST-2 from the Hub, pins.

The Hub is mocked (its API and file system answer from the mini benchmark's files), so every path runs offline.
"""

from __future__ import annotations

import fnmatch
import io
import json
import shutil
import tarfile
from types import SimpleNamespace

import datasets
import huggingface_hub
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import MINI_HUB, run_cli
from huggingface_hub.errors import RevisionNotFoundError

from xtreme_s.cli import _main_for_users
from xtreme_s.registry import FLEURS_LOCALES, resolve
from xtreme_s.sources import LanguageUnavailable, LoadContext, SourceError, load_splits, raw_layout
from xtreme_s.sources.covost2 import Covost2Adapter
from xtreme_s.sources.fleurs import FleursAdapter, fleurs_lang_ids
from xtreme_s.sources.report import main as sources_main

EXPORT_SHA = "e" * 40
FLEURS_EXPORT = [f"en_us/{s}/0000.parquet" for s in ("train", "validation", "test")]
FLEURS_RAW = [f"data/en_us/{s}.tsv" for s in ("train", "dev", "test")] + \
    [f"data/en_us/audio/{s}.tar.gz" for s in ("train", "dev", "test")]
COVOST = [f"fr_en/{s}-00000-of-00001.parquet" for s in ("train", "validation", "test")]


def _missing_revision(repo, revision):
    err = RevisionNotFoundError.__new__(RevisionNotFoundError)
    Exception.__init__(err, f"{repo}: revision {revision} not found")
    return err


@pytest.fixture
def hub(monkeypatch):
    """A mocked Hub: {repo: {branch: sha}} and {(repo, sha): [paths]}, each path served from mini_benchmark/hub."""
    state = SimpleNamespace(branches={}, files={}, downloads=[])

    def dataset_info(self, repo_id, revision=None, **kw):
        sha = state.branches.get(repo_id, {}).get(revision)
        if sha is None:
            raise _missing_revision(repo_id, revision)
        return SimpleNamespace(sha=sha)

    def glob(self, pattern, **kw):
        head, _, rel = pattern.partition("@")
        sha, _, rel = rel.partition("/")
        repo = head.removeprefix("datasets/")
        return [f"datasets/{repo}@{sha}/{p}" for p in state.files.get((repo, sha), []) if fnmatch.fnmatch(p, rel)]

    def resolve_path(self, path, revision=None):
        head, _, rest = path.partition("@")
        sha, _, rel = rest.partition("/")
        return SimpleNamespace(repo_id=head.removeprefix("datasets/"), repo_type="dataset", revision=sha,
                               path_in_repo=rel)

    def hf_hub_download(repo_id, filename, revision=None, **kw):
        assert filename in state.files[(repo_id, revision)], (repo_id, revision, filename)
        state.downloads.append(filename)
        return str(MINI_HUB / repo_id / filename)

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)
    monkeypatch.setattr(huggingface_hub.HfFileSystem, "glob", glob)
    monkeypatch.setattr(huggingface_hub.HfFileSystem, "resolve_path", resolve_path)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    monkeypatch.delenv("XTREME_S_MIRROR_ROOT", raising=False)
    return state


def _load(config, ctx, splits=("test",)):
    return load_splits(resolve(config), list(splits), ctx)[0]


def test_export_present_is_read_at_its_resolved_commit(hub, tmp_path):
    hub.branches["google/fleurs"] = {"refs/convert/parquet": EXPORT_SHA}
    hub.files[("google/fleurs", EXPORT_SHA)] = FLEURS_EXPORT
    ctx = LoadContext(cache_dir=str(tmp_path))
    ds = _load("fleurs.en_us", ctx)["test"]
    assert len(ds) == 4
    assert ctx.record["layouts"]["google/fleurs"] == {"parquet export": {
        "revision": "refs/convert/parquet", "commit": EXPORT_SHA, "where": "hub", "languages": ["en_us"]}}


def test_export_missing_falls_back_to_the_raw_files_at_the_pinned_commit(hub, tmp_path, monkeypatch):
    # The parquet branch is gone (the Hub deletes it on a push to main); main's original files are pinned.
    hub.files[("google/fleurs", FleursAdapter.raw_revision)] = FLEURS_RAW
    converted = []
    original = raw_layout._convert_one
    monkeypatch.setattr(raw_layout, "_convert_one", lambda shard, f: converted.append(shard) or original(shard, f))
    ctx = LoadContext(cache_dir=str(tmp_path))
    raw = _load("fleurs.en_us", ctx, ("train", "test"))
    assert ctx.record["layouts"]["google/fleurs"]["raw fallback"]["commit"] == FleursAdapter.raw_revision
    assert len(converted) == 2 and set(hub.downloads) == {
        "data/en_us/train.tsv", "data/en_us/test.tsv", "data/en_us/audio/train.tar.gz", "data/en_us/audio/test.tar.gz"}
    export = _load("fleurs.en_us", LoadContext(mirror_root=str(MINI_HUB), cache_dir=str(tmp_path),
                                               source_layout="parquet"), ("train", "test"))
    for split in ("train", "test"):
        for column in ("id", "target", "duration", "lang_id", "sentence_id", "gender"):
            assert raw[split][column] == export[split][column], (split, column)
    # A later run (or another process of the job) reuses the converted files.
    _load("fleurs.en_us", LoadContext(cache_dir=str(tmp_path)), ("train", "test"))
    assert len(converted) == 2


def test_no_export_and_no_raw_files_is_one_line_naming_what_was_tried(hub, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        _main_for_users(["sources", "fleurs.en_us", "--cache_dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("xtreme-s: error: ")
    assert "parquet export @ refs/convert/parquet" in err and f"raw fallback @ {FleursAdapter.raw_revision}" in err


def test_covost2_from_the_hub_at_its_pin(hub, tmp_path):
    hub.files[("fixie-ai/covost2", Covost2Adapter.revision)] = COVOST
    ctx = LoadContext(cache_dir=str(tmp_path))
    splits = _load("covost2.fr.en", ctx, ("train", "validation", "test"))
    assert {k: len(v) for k, v in splits.items()} == {"train": 9, "validation": 3, "test": 3}
    row = splits["test"][0]
    assert row["target"] == row["translation"] and row["transcription"] and row["id"].startswith("common_voice_fr_")
    assert ctx.record["layouts"]["fixie-ai/covost2"]["parquet"]["commit"] == Covost2Adapter.revision


def _covost_variant(tmp_path, rename: dict, drop=()):
    """A mirror whose fixie-ai/covost2 files spell columns differently, audio a plain struct (no HF metadata)."""
    for rel in COVOST:
        table = pq.read_table(MINI_HUB / "fixie-ai/covost2" / rel)
        table = table.replace_schema_metadata(None).drop_columns(list(drop))
        table = table.rename_columns([rename.get(c, c) for c in table.column_names])
        (tmp_path / "m/fixie-ai/covost2/fr_en").mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp_path / "m/fixie-ai/covost2" / rel)
    return LoadContext(mirror_root=str(tmp_path / "m"), cache_dir=str(tmp_path / "cache"))


def test_covost2_column_variants_load_and_a_missing_column_is_named(tmp_path):
    ctx = _covost_variant(tmp_path, {"sentence": "transcription", "file": "path"}, drop=["id"])
    ds = _load("covost2.fr.en", ctx)["test"]
    assert ds["id"][0].startswith("common_voice_fr_") and ds["transcription"][0] and ds["target"][0]
    ctx = _covost_variant(tmp_path / "b", {"translation": "english"})
    with pytest.raises(SourceError, match=r"fr_en test: no translation column .*translation.*english"):
        _load("covost2.fr.en", ctx)


def test_pins_and_layout_recorded_in_results_and_both_layouts_score_the_same(tmp_path, hf_cache):
    args = ["--mini", "--dataset_config_name", "fleurs.en_us", "--do_train", "--do_predict", "--max_steps", "2",
            "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "4", "--eval_strategy", "no",
            "--save_strategy", "no", "--learning_rate", "1e-3"]
    runs = {layout: run_cli([*args, "--source_layout", layout], tmp_path / layout, hf_cache)
            for layout in ("parquet", "raw")}
    assert runs["raw"]["data"]["layouts"]["google/fleurs"] == {"raw fallback": {
        "revision": FleursAdapter.raw_revision, "commit": None, "where": f"mirror {MINI_HUB}",
        "languages": ["en_us"]}}
    assert runs["parquet"]["data"]["layouts"]["google/fleurs"]["parquet export"]["revision"] == "refs/convert/parquet"
    assert runs["raw"]["splits"]["test"] == runs["parquet"]["splits"]["test"]
    assert runs["raw"]["train"]["train_loss"] == runs["parquet"]["train"]["train_loss"]
    preds = {layout: (tmp_path / layout / "predictions.jsonl").read_text() for layout in runs}
    assert preds["raw"] == preds["parquet"] and len(preds["raw"].splitlines()) == 4


def test_sources_command_reports_layout_revision_rows_hours_and_missing_languages(capsys):
    assert sources_main(["fleurs.all", "--mini", "--source_layout", "raw", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["fleurs.all"]
    assert entry["repository"] == "google/fleurs" and entry["layout"] == "raw fallback"
    assert entry["requested_revision"] == FleursAdapter.raw_revision
    assert entry["splits"]["test"]["en_us"]["rows"] == 4 and entry["splits"]["test"]["en_us"]["files"] == 2
    assert 0 < entry["splits"]["train"]["en_us"]["hours"] < 0.05
    assert any("missing languages (101 of 102)" in w for w in entry["warnings"])
    with pytest.raises(SystemExit) as exit_:
        _main_for_users(["sources", "covost2.fr.en", "--mini"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "fixie-ai/covost2  layout: parquet" in out and f"requested {Covost2Adapter.revision}" in out


def test_fleurs_lang_id_is_always_the_102_locales():
    names = [*FLEURS_LOCALES, "all"]  # the original loader's list, as a Hub export may carry it
    ds = datasets.Dataset.from_dict({"lang_id": [19, 101]}, features=datasets.Features(
        {"lang_id": datasets.ClassLabel(names=names)}))
    out = fleurs_lang_ids(ds)
    assert out.features["lang_id"].names == list(FLEURS_LOCALES) and out["lang_id"] == [19, 101]
    shuffled = datasets.Dataset.from_dict({"lang_id": [0]}, features=datasets.Features(
        {"lang_id": datasets.ClassLabel(names=["en_us", "af_za"])}))
    assert fleurs_lang_ids(shuffled)["lang_id"] == [FLEURS_LOCALES.index("en_us")]
    with pytest.raises(SourceError, match="all"):
        fleurs_lang_ids(datasets.Dataset.from_dict({"lang_id": [102]}, features=ds.features))


def _tar_shards(folder, members: list[tuple[str, bytes]]) -> list[str]:
    """One .tar.gz shard per (member name, content), as the raw layouts ship their audio."""
    shards = []
    for i, (name, data) in enumerate(members):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        (folder / f"{i}.tar.gz").write_bytes(buffer.getvalue())
        shards.append(str(folder / f"{i}.tar.gz"))
    return shards


def test_conversion_resumes_from_the_shards_already_written(tmp_path, monkeypatch):
    shards = _tar_shards(tmp_path, [(f"part{i}/{i}.wav", b"ab") for i in range(3)])
    features = datasets.Features({"name": datasets.Value("string")})
    dest = tmp_path / "out"
    raw_layout.convert_shards(shards, dest, features, lambda name, data: {"name": name}, "test")
    (dest / raw_layout.COMPLETE).unlink()
    (dest / "0001.parquet").unlink()  # as if the run was killed while converting shard 1
    seen = []
    original = raw_layout._convert_one
    monkeypatch.setattr(raw_layout, "_convert_one", lambda shard, f: seen.append(shard) or original(shard, f))
    files, summary = raw_layout.convert_shards(shards, dest, features, lambda name, data: {"name": name}, "test")
    assert seen == [shards[1]] and summary["rows"] == 3
    assert pa.concat_tables([pq.read_table(f) for f in files])["name"].to_pylist() == \
        [f"part{i}/{i}.wav" for i in range(3)]


def test_mls_english_dev_test_from_parler_tts_and_training_only_with_ids(tmp_path):
    mirror = tmp_path / "m"
    mls = "facebook/multilingual_librispeech"
    shutil.copytree(MINI_HUB / mls / "polish", mirror / mls / "polish")
    german = MINI_HUB / "facebook/multilingual_librispeech/german"
    for split, name in (("dev", "dev"), ("test", "test"), ("9_hours", "train")):
        (mirror / "parler-tts/mls_eng/data").mkdir(parents=True, exist_ok=True)
        table = pq.read_table(german / f"{split}-00000-of-00001.parquet").drop_columns(["id"])  # as parler-tts
        pq.write_table(table, mirror / f"parler-tts/mls_eng/data/{name}-00000-of-00001.parquet")
    ctx = LoadContext(mirror_root=str(mirror), cache_dir=str(tmp_path / "c"))
    assert len(_load("mls.en", ctx)["test"]) == 3
    with pytest.raises(LanguageUnavailable, match="--mls_english_train_ids"):
        _load("mls.en", LoadContext(mirror_root=str(mirror), cache_dir=str(tmp_path / "c")), ("train",))
    ids = tmp_path / "9hr.txt"
    first = pq.read_table(german / "9_hours-00000-of-00001.parquet")["id"].to_pylist()[:3]
    # Saved as UTF-16 (Windows "Unicode" text), with one id the data lacks: read, and the missing id counted.
    ids.write_bytes(("\n".join([*first, "999_999_000000"]) + "\n").encode("utf-16"))
    ctx = LoadContext(mirror_root=str(mirror), cache_dir=str(tmp_path / "c"), mls_english_train_ids=str(ids))
    assert sorted(_load("mls.en", ctx, ("train",))["train"]["id"]) == sorted(first)
    assert ctx.record["ids_missing_from_data"] == {f"{ids} (mls en train)": 1}
    # mls.all without the ids: English is left out of every split, not only of training
    splits, missing = load_splits(resolve("mls.all"), ["test", "train"], LoadContext(mirror_root=str(mirror),
                                                                                  cache_dir=str(tmp_path / "c")))
    assert "en" in missing and "en" not in set(splits["test"]["language"])


def _convert_in_process(shards, dest, log):
    def row_for(name, data):
        with open(log, "a") as f:
            f.write(name + "\n")
        return {"name": name}

    raw_layout.convert_shards(shards, dest, datasets.Features({"name": datasets.Value("string")}), row_for, "test")


def test_processes_of_a_job_convert_once_and_share_the_result(tmp_path):
    """As the ranks of a torchrun job: the first converts under the lock, the other waits and reads its files."""
    import multiprocessing

    shards = _tar_shards(tmp_path, [(f"{i}.wav", b"a") for i in range(2)])
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_convert_in_process, args=(shards, tmp_path / "out", tmp_path / "log"))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert sorted((tmp_path / "log").read_text().split()) == ["0.wav", "1.wav"]  # each member converted once
