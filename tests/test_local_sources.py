"""A plain local folder through `load_splits`, and the BABEL transcript parser."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from xtreme_s import registry
from xtreme_s.sources import LoadContext, SourceError, load_splits
from xtreme_s.sources.babel import parse_babel_transcript

COMMON = {"id", "language", "audio", "duration", "transcription"}

# (file, sampling rate, seconds, language, transcription)
TRAIN = [
    ("clips/a.wav", 16_000, 1.0, "pl", "jeden"),
    ("clips/b.flac", 8_000, 0.5, "pl", "dwa"),
    ("clips/c.wav", 16_000, 0.25, "de", "drei"),
    ("clips/d.wav", 16_000, 0.75, "sw", "nne"),  # not a VoxPopuli language
]
VALIDATION = [("clips/e.wav", 16_000, 1.25, "pl", "pięć")]


def write_folder(root: Path, splits: dict[str, list[tuple]], with_language: bool = True) -> Path:
    (root / "clips").mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        header = "path\ttranscription" + ("\tlanguage" if with_language else "")
        lines = [header]
        for path, sr, seconds, lang, text in rows:
            sf.write(root / path, np.zeros(int(sr * seconds), dtype=np.float32), sr)
            lines.append(f"{path}\t{text}" + (f"\t{lang}" if with_language else ""))
        (root / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "data", {"train": TRAIN, "validation": VALIDATION})


def test_all_config_keeps_task_languages_in_common_schema(folder):
    ctx = LoadContext(data_dir=str(folder))
    out, missing = load_splits(registry.resolve("voxpopuli.all"), ["train", "validation"], ctx)
    assert missing == []
    assert set(out) == {"train", "validation"}
    train = out["train"]
    assert COMMON <= set(train.column_names)
    # The Swahili row is not a VoxPopuli language: left out of training and counted.
    assert train["language"] == ["pl", "pl", "de"]
    assert ctx.skipped == {"train": {"language sw not in voxpopuli.all": 1}}
    assert train["transcription"] == ["jeden", "dwa", "drei"]
    assert train["duration"] == pytest.approx([1.0, 0.5, 0.25])  # from headers, FLAC at 8 kHz included
    ids = train["id"]
    assert all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids)
    for row, (path, *_rest) in zip(train, TRAIN, strict=False):
        audio = row["audio"]
        assert audio["bytes"] is None  # still encoded: nothing decoded at load time
        assert Path(audio["path"]).is_absolute()
        assert Path(audio["path"]) == (folder / path).resolve()
    val = out["validation"]
    assert val["transcription"] == ["pięć"]
    assert val["duration"] == pytest.approx([1.25])
    assert str(folder / "train.tsv") in ctx.record["files"]


def test_single_language_config_reads_the_folder(tmp_path):
    root = write_folder(tmp_path / "pl", {"train": [r for r in TRAIN if r[3] == "pl"]})
    out, missing = load_splits(registry.resolve("voxpopuli.pl"), ["train"], LoadContext(data_dir=str(root)))
    train = out["train"]
    assert missing == []
    assert COMMON <= set(train.column_names)
    assert train["language"] == ["pl", "pl"]
    assert train["duration"] == pytest.approx([1.0, 0.5])
    assert [row["audio"]["path"] for row in train] == [str((root / r[0]).resolve()) for r in TRAIN[:2]]


def test_single_language_config_drops_other_languages(folder):
    out, _ = load_splits(registry.resolve("voxpopuli.pl"), ["train"], LoadContext(data_dir=str(folder)))
    assert out["train"]["language"] == ["pl", "pl"]


def test_language_codes_match_case_insensitively(tmp_path):
    root = write_folder(tmp_path / "upper", {"train": [(p, sr, s, lang.upper(), t) for p, sr, s, lang, t in TRAIN]})
    out, _ = load_splits(registry.resolve("voxpopuli.all"), ["train"], LoadContext(data_dir=str(root)))
    assert out["train"]["language"] == ["pl", "pl", "de"]  # PL is pl, DE is de; SW is not a VoxPopuli language


def test_folder_without_any_config_language_is_an_error(tmp_path):
    root = write_folder(tmp_path / "sw", {"train": [(p, sr, s, "sw", t) for p, sr, s, _lang, t in TRAIN]})
    with pytest.raises(SourceError, match="no row is in the languages of voxpopuli.all"):
        load_splits(registry.resolve("voxpopuli.all"), ["train"], LoadContext(data_dir=str(root)))


def test_manifest_file_is_closed(folder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        load_splits(registry.resolve("voxpopuli.all"), ["validation"], LoadContext(data_dir=str(folder)))
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_single_language_config_without_language_column(tmp_path):
    root = write_folder(tmp_path / "nolang", {"train": TRAIN[:2]}, with_language=False)
    out, _ = load_splits(registry.resolve("voxpopuli.pl"), ["train"], LoadContext(data_dir=str(root)))
    assert out["train"]["language"] == ["pl", "pl"]
    assert out["train"]["id"] == [row[0] for row in TRAIN[:2]]  # without an id column: the clip's path


def test_all_config_needs_a_language_column(tmp_path):
    root = write_folder(tmp_path / "nolang", {"train": TRAIN[:2]}, with_language=False)
    with pytest.raises(SourceError, match="language"):
        load_splits(registry.resolve("voxpopuli.all"), ["train"], LoadContext(data_dir=str(root)))


def test_manifest_duration_and_unreadable_header(tmp_path):
    root = tmp_path / "d"
    (root / "clips").mkdir(parents=True)
    sf.write(root / "clips" / "ok.wav", np.zeros(16_000, dtype=np.float32), 16_000)
    (root / "clips" / "bad.wav").write_bytes(b"garbage" * 10)
    (root / "train.tsv").write_text("path\ttranscription\nclips/ok.wav\tx\nclips/bad.wav\ty\n", encoding="utf-8")
    out, _ = load_splits(registry.resolve("voxpopuli.pl"), ["train"], LoadContext(data_dir=str(root)))
    assert out["train"]["duration"] == [1.0, -1.0]  # -1 marks an unreadable header
    # A duration column in the manifest is taken as given.
    (root / "validation.tsv").write_text("path\ttranscription\tduration\nclips/ok.wav\tx\t2.5\n", encoding="utf-8")
    out, _ = load_splits(registry.resolve("voxpopuli.pl"), ["validation"], LoadContext(data_dir=str(root)))
    assert out["validation"]["duration"] == [2.5]


def test_unknown_split_is_an_error(folder):
    with pytest.raises(SourceError, match="dev"):
        load_splits(registry.resolve("voxpopuli.all"), ["dev"], LoadContext(data_dir=str(folder)))


BABEL_TRANSCRIPT = """[0.000]
<no-speech>
[1.250]
hello <hes> world (())
[3.500]
<breath> <laugh>
[4.000]
  second   <foreign> segment
[7.125]
"""


def test_parse_babel_transcript(tmp_path):
    path = tmp_path / "BABEL_OP1_102_10000_20120101_000000_inLine.txt"
    path.write_text(BABEL_TRANSCRIPT, encoding="utf-8")
    segments = parse_babel_transcript(path)
    # <no-speech> and tag-only segments dropped; tags and (()) removed; spaces squeezed; the last time line
    # closes the last segment.
    assert segments == [(1.25, 3.5, "hello world"), (4.0, 7.125, "second segment")]


def test_parse_babel_transcript_without_closing_time(tmp_path):
    path = tmp_path / "open.txt"
    path.write_text("[0.5]\nfirst words\n[2.0]\nno end time\n", encoding="utf-8")
    assert parse_babel_transcript(path) == [(0.5, 2.0, "first words")]


def test_parse_babel_transcript_rejects_malformed_time_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("[0.0]\nwords\n1.5\n", encoding="utf-8")
    with pytest.raises(SourceError, match="bad.txt:3"):
        parse_babel_transcript(path)
