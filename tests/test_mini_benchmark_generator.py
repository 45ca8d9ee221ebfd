"""The committed mini benchmark is what scripts/make_mini_benchmark.py makes (needs espeak-ng)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import soundfile as sf
from conftest import MINI, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory, espeak_ng):
    out = tmp_path_factory.mktemp("regen") / "mini_benchmark"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_mini_benchmark.py"), "--out", str(out),
                    "--skip-verify"], check=True, cwd=ROOT, capture_output=True)
    return out


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.name != "README.md")


def test_same_files(regenerated):
    assert _files(regenerated) == _files(MINI)


def test_same_tables_and_audio_lengths(regenerated):
    """Metadata must match exactly; audio must have the same length (encoders may differ in the last bits)."""
    for rel in (p for p in _files(MINI) if p.suffix == ".parquet"):
        old, new = pq.read_table(MINI / rel), pq.read_table(regenerated / rel)
        assert old.schema == new.schema, rel
        meta = [c for c in old.column_names if c != "audio"]
        assert old.select(meta).to_pylist() == new.select(meta).to_pylist(), rel
        for a, b in zip(old.column("audio").to_pylist(), new.column("audio").to_pylist(), strict=True):
            assert sf.info(io.BytesIO(a["bytes"])).frames == sf.info(io.BytesIO(b["bytes"])).frames, rel


def _comparable(path):
    """The file's text; a JSON file without the `transformers_version` stamp that save_pretrained writes (a new
    transformers release must not make the committed tiny models look stale)."""
    if path.suffix != ".json":
        return path.read_text()
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        data.pop("transformers_version", None)
    return data


def _same_tokenizer(old, new) -> None:
    """A tokenizer.json equal but for its normalizer steps, which transformers releases write differently (5.25
    adds a right `Strip` the committed copy lacks), and whose normalizers agree on every text the tiny decoder
    is made for: the same tokens either way."""
    from tokenizers import Tokenizer

    sys.path.insert(0, str(ROOT / "scripts"))
    from make_tiny_decoder import english_sentences

    a, b = json.loads(old.read_text()), json.loads(new.read_text())
    a.pop("normalizer", None), b.pop("normalizer", None)
    assert a == b, old
    ta, tb = Tokenizer.from_file(str(old)), Tokenizer.from_file(str(new))
    for text in english_sentences():
        assert ta.encode(text).ids == tb.encode(text).ids, (old, text)


def test_same_text_files(regenerated):
    for rel in (p for p in _files(MINI) if p.suffix in (".tsv", ".txt", ".json")):
        if rel.name == "tokenizer.json":
            _same_tokenizer(MINI / rel, regenerated / rel)
        else:
            assert _comparable(MINI / rel) == _comparable(regenerated / rel), rel
