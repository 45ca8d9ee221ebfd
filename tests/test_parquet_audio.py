"""Hub parquet audio read in place (xtreme_s.parquet_audio): no audio bytes in any dataset or cache, the same
samples as decoding the source's bytes, and a row-group-aware order that reads each row group about once."""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from types import SimpleNamespace

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch
from conftest import MINI_HUB

from xtreme_s import parquet_audio
from xtreme_s.audio import load_audio
from xtreme_s.collators import SpeechCollator, SpeechDataset
from xtreme_s.robustness import SKIPPED_KEY, UNDECODABLE, BadAudioError
from xtreme_s.sampling import DurationBatchSampler, longest_first
from xtreme_s.sources import LoadContext, load_parquet_files
from xtreme_s.startup_checks import check_eval_split

FLEURS = MINI_HUB / "google" / "fleurs"


def _file(lang: str = "en_us", split: str = "train") -> str:
    return str(FLEURS / lang / split / "0000.parquet")


def _dir_bytes(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _rewrite(tmp_path, rows_per_group: int, corrupt: set[int] = frozenset(), name: str = "x.parquet") -> str:
    """The mini FLEURS en_us train file again, with small row groups (and optionally corrupt audio cells)."""
    table = pq.read_table(_file())
    cells = table.column("audio").to_pylist()
    for i in corrupt:
        cells[i] = {"bytes": b"RIFF garbage" * 40, "path": cells[i]["path"]}
    audio = pa.array(cells, type=table.schema.field("audio").type)
    table = table.set_column(table.schema.get_field_index("audio"), "audio", audio)
    path = str(tmp_path / name)
    pq.write_table(table, path, row_group_size=rows_per_group)
    return path


def test_metadata_dataset_holds_no_audio_bytes(tmp_path):
    cache = tmp_path / "cache"
    ds = load_parquet_files([_file("en_us"), _file("de_de")], LoadContext(cache_dir=str(cache)))
    raw = sum(os.path.getsize(f) for f in (_file("en_us"), _file("de_de")))
    assert len(ds) == pq.read_metadata(_file("en_us")).num_rows + pq.read_metadata(_file("de_de")).num_rows
    assert all(a["bytes"] is None for a in ds["audio"])
    # what is written is the metadata (names, transcripts, ids): the mini benchmark's 2-3 s clips make it a few %
    # of the source here, about 0.1 % for real 12 s clips (make bench); a copy of the audio would be 100 %
    assert _dir_bytes(cache) < 0.05 * raw, (_dir_bytes(cache), raw)
    (arrow,) = cache.rglob("*.arrow")
    with pa.memory_map(str(arrow)) as source:
        stored = pa.ipc.open_stream(source).read_all()
    assert stored.column("audio").combine_chunks().field("bytes").null_count == len(ds)
    # a second load (another process, a later run) reuses it
    again = load_parquet_files([_file("en_us"), _file("de_de")], LoadContext(cache_dir=str(cache)))
    assert again.cache_files == ds.cache_files and again["transcription"] == ds["transcription"]
    # and no step downstream copies audio: map/filter/select/concatenate keep references
    more = ds.map(lambda b: {"n": [len(t) for t in b["transcription"]]}, batched=True)
    more = datasets.concatenate_datasets([more.filter(lambda t: len(t) > 0, input_columns=["transcription"]),
                                          more.select([1, 0])])
    assert all(a["bytes"] is None and parquet_audio.parse_ref(a["path"]) for a in more["audio"])


def test_samples_equal_decoding_the_source_bytes_for_every_row(tmp_path):
    path = _rewrite(tmp_path, rows_per_group=3)  # several row groups: rows are located across groups
    original = pq.read_table(path).column("audio").to_pylist()
    ds = load_parquet_files([path], LoadContext(cache_dir=str(tmp_path / "cache")))
    for i in [*range(len(ds))][::-1]:  # backwards: every lookup crosses row groups
        ref = ds[i]["audio"]
        assert ref["path"].endswith("::" + original[i]["path"])  # the original file name stays visible
        want = load_audio({"bytes": original[i]["bytes"], "path": None}, 16_000)
        np.testing.assert_array_equal(load_audio(ref, 16_000), want)
    # rows survive select/filter in their new positions
    picked = ds.select([4, 1])
    np.testing.assert_array_equal(load_audio(picked[0]["audio"], 16_000),
                                  load_audio({"bytes": original[4]["bytes"]}, 16_000))


def test_source_features_survive(tmp_path):
    ds = load_parquet_files([_file()], LoadContext(cache_dir=str(tmp_path)))
    source = datasets.Features.from_arrow_schema(pq.read_schema(_file()))
    assert isinstance(ds.features["lang_id"], datasets.ClassLabel)
    assert ds.features["lang_id"].names == source["lang_id"].names and len(source["lang_id"].names) == 102
    assert ds.features["gender"].names == source["gender"].names
    assert ds.features["audio"] == datasets.Audio(sampling_rate=16_000, decode=False)
    assert ds.column_names == list(source)


def test_path_only_audio_keeps_its_path(tmp_path):
    clip = tmp_path / "a.wav"
    sf.write(clip, np.zeros(800, dtype=np.float32), 16_000)
    features = datasets.Features({"audio": datasets.Audio(sampling_rate=16_000), "text": datasets.Value("string")})
    pq.write_table(pa.Table.from_pydict({"audio": [{"bytes": None, "path": str(clip)}], "text": ["x"]},
                                        schema=features.arrow_schema), tmp_path / "p.parquet")
    ds = load_parquet_files([str(tmp_path / "p.parquet")], LoadContext(cache_dir=str(tmp_path / "cache")))
    assert ds[0]["audio"] == {"bytes": None, "path": str(clip)}


def test_a_file_with_nothing_but_audio(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, np.full(1600, 0.25, dtype=np.float32), 16_000, format="WAV", subtype="FLOAT")
    features = datasets.Features({"audio": datasets.Audio(sampling_rate=16_000)})
    pq.write_table(pa.Table.from_pydict({"audio": [{"bytes": buf.getvalue(), "path": "a.wav"}] * 3},
                                        schema=features.arrow_schema), tmp_path / "only.parquet", row_group_size=2)
    ds = load_parquet_files([str(tmp_path / "only.parquet")], LoadContext(cache_dir=str(tmp_path / "cache")))
    assert len(ds) == 3 and np.allclose(load_audio(ds[2]["audio"], 16_000), 0.25)


def test_reader_reads_each_row_group_once_and_stays_within_its_memory(tmp_path):
    path = _rewrite(tmp_path, rows_per_group=3)
    n = pq.read_metadata(path).num_rows
    groups = -(-n // 3)
    reader = parquet_audio.RowGroupReader(max_bytes=10**9)
    for row in range(n):
        assert reader.read(path, "audio", row)[0]
    assert reader.group_reads == groups and reader.rows_read == n
    one_group = reader.cached_bytes // groups
    small = parquet_audio.RowGroupReader(max_bytes=int(1.5 * one_group))
    for row in range(n):
        small.read(path, "audio", row)
        assert len(small.groups) == 1  # memory-bounded: the oldest group goes
    assert small.group_reads == groups  # sequential order: still each group once
    with pytest.raises(parquet_audio.ParquetAudioError, match="no row"):
        reader.read(path, "audio", n)


def test_dataloader_workers_read_through_their_own_reader(tmp_path):
    path = _rewrite(tmp_path, rows_per_group=4)
    ds = load_parquet_files([path], LoadContext(cache_dir=str(tmp_path / "cache")))
    ds = ds.add_column("duration", [n / 16_000 for n in ds["num_samples"]])
    data = SpeechDataset(ds)
    parquet_audio.read_ref(ds[0]["audio"]["path"])  # the parent has a reader with open files before the fork
    fe = SimpleNamespace(sampling_rate=16_000)

    def collate(items):
        return [load_audio(it["audio"], fe.sampling_rate) for it in items]

    loader = torch.utils.data.DataLoader(data, batch_size=3, num_workers=2, collate_fn=collate,
                                         multiprocessing_context="fork")
    got = [w for batch in loader for w in batch]
    original = pq.read_table(path).column("audio").to_pylist()
    assert len(got) == len(original)
    for wav, cell in zip(got, original, strict=True):
        np.testing.assert_array_equal(wav, load_audio({"bytes": cell["bytes"]}, 16_000))


def test_corrupt_parquet_audio_is_skipped_in_training_and_named_in_evaluation(tmp_path):
    from transformers import Wav2Vec2FeatureExtractor

    path = _rewrite(tmp_path, rows_per_group=4, corrupt={2})
    ds = load_parquet_files([path], LoadContext(cache_dir=str(tmp_path / "cache")))
    ds = ds.add_column("duration", [n / 16_000 for n in ds["num_samples"]])
    collator = SpeechCollator(Wav2Vec2FeatureExtractor(sampling_rate=16_000, return_attention_mask=True),
                              label_kind="none")
    batch = collator([{"audio": ds[i]["audio"], "id": str(i), "skip_bad_audio": True} for i in range(4)])
    assert batch["input_values"].shape[0] == 3 and batch[SKIPPED_KEY].tolist()[0] == 1
    family = SimpleNamespace(skipped={}, skip=lambda split, reason: family.skipped.setdefault(reason, 0))
    with pytest.raises(BadAudioError, match=r"x\.parquet::audio::2::"):
        check_eval_split(ds, "test", full_decode=True, allow_skipping=False, tally=family)
    kept = check_eval_split(ds, "test", full_decode=True, allow_skipping=True, tally=family)
    assert len(kept) == len(ds) - 1 and UNDECODABLE in family.skipped


def test_hub_files_are_downloaded_at_their_commit_then_read_in_place(monkeypatch, tmp_path):
    import huggingface_hub

    sha = "0123456789abcdef0123456789abcdef01234567"
    calls = []

    def resolve_path(self, path, **kw):
        repo, _, rest = path.removeprefix("datasets/").partition("@")
        revision, _, in_repo = rest.partition("/")
        return SimpleNamespace(repo_type="dataset", repo_id=repo, revision=revision, path_in_repo=in_repo)

    def download(repo_id, filename, **kw):
        calls.append((repo_id, filename, kw["repo_type"], kw["revision"]))
        return _file()

    monkeypatch.setattr(huggingface_hub.HfFileSystem, "resolve_path", resolve_path)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    ds = load_parquet_files([f"hf://datasets/google/fleurs@{sha}/en_us/train/0000.parquet"],
                            LoadContext(cache_dir=str(tmp_path / "cache")))
    assert calls == [("google/fleurs", "en_us/train/0000.parquet", "dataset", sha)]
    assert parquet_audio.parse_ref(ds[0]["audio"]["path"])[0].endswith("en_us/train/0000.parquet")


# -- row-group-aware order -------------------------------------------------------------------------------------


def _fleurs_like(n: int, seed: int = 0) -> np.ndarray:
    return np.clip(np.random.default_rng(seed).lognormal(np.log(10.5), 0.45, n), 2, 30)


def _lru_reads(batches, groups, capacity: int) -> int:
    cache, reads = OrderedDict(), 0
    for batch in batches:
        for i in batch:
            if groups[i] in cache:
                cache.move_to_end(groups[i])
            else:
                reads += 1
                cache[groups[i]] = True
                if len(cache) > capacity:
                    cache.popitem(last=False)
    return reads


def test_windowed_batches_stay_in_their_window_and_read_each_group_about_once():
    n, rows, window = 4000, 100, 8
    durations, groups = _fleurs_like(n), np.arange(n) // rows
    sampler = DurationBatchSampler(durations, 200, seed=3, groups=groups, window=window)
    plain = DurationBatchSampler(durations, 200, seed=3)
    for epoch in (0, 1):
        batches = sampler.global_batches(epoch)
        assert sorted(i for b in batches for i in b) == list(range(n)) and len(batches) == len(sampler)
        win = sampler.window_of_groups(epoch)[groups]
        firsts = [win[b[0]] for b in batches]
        assert firsts == sorted(firsts)  # windows one after another
        # a batch holds one window's clips, or (cut by a window boundary) also the next window's
        assert np.mean([set(win[b]) <= {win[b[0]], win[b[0]] + 1} for b in batches]) > 0.95
        for b in batches:
            assert len(b) * durations[b].max() <= 200
        # a reader holding two windows' groups reads each of the 40 groups about once; random order thrashes
        assert _lru_reads(batches, groups, 2 * window) <= 1.3 * (groups.max() + 1)
        assert _lru_reads(plain.global_batches(epoch), groups, 2 * window) > 10 * (groups.max() + 1)
    assert sampler.padding_ratio() <= plain.padding_ratio() + 0.01  # padding stays that of duration batching
    assert sampler.global_batches(1) != sampler.global_batches(0)
    assert not np.array_equal(sampler.window_of_groups(0), sampler.window_of_groups(1))  # new windows every epoch


def test_windowed_order_is_pure_in_seed_and_epoch_and_fair_to_every_rank():
    durations, groups = _fleurs_like(1500, seed=1), np.arange(1500) // 50
    a = DurationBatchSampler(durations, 90, seed=7, groups=groups, window=4)
    b = DurationBatchSampler(durations, 90, seed=7, groups=groups, window=4)  # a fresh process resuming
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    assert {len(a.global_batches(e)) for e in range(5)} == {len(a)}  # exact steps per epoch, every epoch
    for drop_last in (False, True):
        ranks = [DurationBatchSampler(durations, 90, seed=7, groups=groups, window=4, num_replicas=3, rank=r,
                                      drop_last=drop_last) for r in range(3)]
        assert len({len(list(s)) for s in ranks} | {len(ranks[0])}) == 1


def test_windowed_sampler_resumes_mid_epoch_through_the_trainer(tmp_path):
    from test_sampling import _real_trainer, resumed_labels

    durations = _fleurs_like(300).tolist()
    trainer = _real_trainer(tmp_path, durations, max_batch_seconds=60.0, seed=5, shuffle_window_row_groups=2)
    trainer.train_dataset._xtreme_s_row_groups = np.arange(300) // 25  # as parquet_audio would find them
    loader = trainer.get_train_dataloader()
    assert trainer.duration_sampler.groups is not None
    got = resumed_labels(loader, skip=3, epoch=2)
    fresh = DurationBatchSampler(durations, 60.0, seed=5, groups=np.arange(300) // 25, window=2)
    assert got == fresh.rank_batches(2)[3:]


def test_evaluation_sorts_longest_first_within_windows():
    durations = [1.0, 5.0, 2.0, 9.0, 3.0, 4.0, 8.0, 0.5]
    groups = [0, 0, 1, 1, 2, 2, 3, 3]
    order = longest_first(durations, groups, window=2)
    assert order == [3, 1, 2, 0, 6, 5, 4, 7]  # groups {0, 1} hold the longest clip: that window goes first
    assert longest_first([8.0, 0.5, 1.0, 9.0], [0, 0, 1, 1], window=1) == [3, 2, 0, 1]
    assert longest_first(durations) == sorted(range(8), key=lambda i: -durations[i])


def test_keys_name_row_groups_and_leave_plain_paths_out(tmp_path):
    path = _rewrite(tmp_path, rows_per_group=4)
    ds = load_parquet_files([path], LoadContext(cache_dir=str(tmp_path / "cache")))
    keys = parquet_audio.row_group_keys([a["path"] for a in ds["audio"]])
    assert keys.tolist() == [i // 4 for i in range(len(ds))]
    assert parquet_audio.row_group_keys(["/a.wav", None]) is None
    assert parquet_audio.parse_ref(b"x.parquet::audio::1::a.wav") is None  # only strings are references
