"""The Hub code path without the Hub: file resolution and revision pinning, with the Hub client mocked."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import huggingface_hub
import pytest

from xtreme_s.sources import LoadContext, SourceError, resolve_hub_files
from xtreme_s.sources.fleurs import FleursAdapter

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def fake_hub(monkeypatch):
    calls = {"info": [], "glob": []}
    tree = {
        f"datasets/google/fleurs@{SHA}/af_za/train/*.parquet": [],
        f"datasets/google/fleurs@{SHA}/af_za/fleurs-train*.parquet": [
            f"datasets/google/fleurs@{SHA}/af_za/fleurs-train-00001-of-00002.parquet",
            f"datasets/google/fleurs@{SHA}/af_za/fleurs-train-00000-of-00002.parquet",
        ],
        f"datasets/facebook/voxpopuli@{SHA}/pl/test/*.parquet": [],
        f"datasets/facebook/voxpopuli@{SHA}/pl/voxpopuli-test*.parquet": [],
        f"datasets/facebook/voxpopuli@{SHA}/pl/partial-test/*.parquet": [
            f"datasets/facebook/voxpopuli@{SHA}/pl/partial-test/0000.parquet"],
    }

    def dataset_info(self, repo_id, revision=None, **kw):
        calls["info"].append((repo_id, revision))
        return SimpleNamespace(sha=SHA)

    def glob(self, pattern, **kw):
        calls["glob"].append(pattern)
        return list(tree.get(pattern, []))

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)
    monkeypatch.setattr(huggingface_hub.HfFileSystem, "glob", glob)
    monkeypatch.delenv("XTREME_S_MIRROR_ROOT", raising=False)
    return calls


def test_branch_is_pinned_to_one_commit_and_recorded(fake_hub):
    ctx = LoadContext()
    patterns = ["af_za/train/*.parquet", "af_za/fleurs-train*.parquet"]
    files = resolve_hub_files("google/fleurs", "refs/convert/parquet", patterns, ctx)
    # the older file naming matched; files are sorted; every path is read at the resolved commit
    assert files == [f"hf://datasets/google/fleurs@{SHA}/af_za/fleurs-train-0000{i}-of-00002.parquet" for i in (0, 1)]
    assert ctx.record["revisions"]["google/fleurs"] == {"requested": "refs/convert/parquet", "commit": SHA}
    resolve_hub_files("google/fleurs", "refs/convert/parquet", patterns, ctx)
    assert fake_hub["info"] == [("google/fleurs", "refs/convert/parquet")]  # resolved once per run


def test_a_commit_needs_no_lookup(fake_hub):
    resolve_hub_files("google/fleurs", SHA, ["af_za/fleurs-train*.parquet"], LoadContext())
    assert fake_hub["info"] == []


def test_adapter_asks_for_its_pinned_revision_and_the_split_layouts(fake_hub):
    ctx = LoadContext()
    with pytest.raises(SourceError, match="No files match"):
        resolve_hub_files("google/fleurs", FleursAdapter.revision, ["xx_yy/train/*.parquet"], ctx)
    assert fake_hub["info"] == [("google/fleurs", "refs/convert/parquet")]


def test_partial_export_is_loud(fake_hub, caplog):
    patterns = ["pl/test/*.parquet", "pl/voxpopuli-test*.parquet", "pl/partial-test/*.parquet"]
    with caplog.at_level(logging.WARNING):
        files = resolve_hub_files("facebook/voxpopuli", "refs/convert/parquet", patterns, LoadContext())
    assert files[0].endswith("partial-test/0000.parquet")
    assert "PARTIAL" in caplog.text


def test_offline_hub_error_points_to_the_mirror(monkeypatch):
    def offline(self, *a, **kw):
        raise ConnectionError("no network")

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", offline)
    monkeypatch.delenv("XTREME_S_MIRROR_ROOT", raising=False)
    with pytest.raises(SourceError, match="mirror_root"):
        resolve_hub_files("google/fleurs", "refs/convert/parquet", ["*"], LoadContext())
