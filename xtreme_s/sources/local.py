"""A plain local folder: `<split>.tsv` (audio paths + XTREME-S columns) or `<split>/*.parquet`, any task."""

from __future__ import annotations

import glob
from pathlib import Path

from datasets import Dataset

from .base import LoadContext, SourceAdapter, SourceError, add_header_durations
from .hub import load_parquet_files
from .tsv import ManifestError, read_manifest


def float_cells(path: Path, rows: list[dict[str, str]], column: str) -> list[float]:
    """A manifest column as numbers, each bad cell reported with its line (header = line 1, blank lines aside)."""
    out = []
    for k, r in enumerate(rows):
        try:
            out.append(float(r[column]))
        except ValueError:
            raise SourceError(f"{path}: row {k + 1} (after the header), column {column!r}: {r[column]!r} is not "
                              "a number.") from None
    return out


class LocalFolderAdapter(SourceAdapter):
    """A plain folder: `<split>.tsv` (audio `path` + XTREME-S columns, optional `language`, `id`, `duration`)
    or `<split>/*.parquet` / `<split>*.parquet` with XTREME-S columns."""

    name = "local"

    def __init__(self, single_language: str | None):
        self.single_language = single_language

    @staticmethod
    def parquet_files(root: Path, split: str) -> list[str]:
        return sorted(glob.glob(str(root / split / "*.parquet"))) or sorted(glob.glob(str(root / f"{split}*.parquet")))

    @classmethod
    def detect(cls, root: Path, split: str) -> bool:
        return (root / f"{split}.tsv").is_file() or bool(cls.parquet_files(root, split))

    def load_split(self, split: str, ctx: LoadContext) -> Dataset:
        root = Path(ctx.data_dir or ".")
        tsv = root / f"{split}.tsv"
        if tsv.is_file():
            try:
                rows = read_manifest(tsv, required=("path",))
            except ManifestError as err:
                if "needs the column(s) 'path'" in str(err):
                    raise SourceError(f"{tsv} needs a 'path' column (audio file, relative to {root}); "
                                      f"{err}") from None
                raise
            if not rows:
                raise SourceError(f"{tsv}: no rows after the header.")
            cols = {k: [r[k] for r in rows] for k in rows[0] if k != "path"}
            cols.setdefault("id", [r["path"] for r in rows])  # the clip's path: a line listed twice is one id
            for k in ("intent_class", "lang_id"):
                # Ids, or class names (mapped to ids by the classification family, which knows the label list).
                if k in cols and all(v.strip().lstrip("-").isdigit() for v in cols[k]):
                    cols[k] = [int(v) for v in cols[k]]
            if "duration" in cols:
                cols["duration"] = float_cells(tsv, rows, "duration")
            audio = [{"bytes": None, "path": resolve_audio_path(root, r["path"], tsv, k)} for k, r in enumerate(rows)]
            ds = Dataset.from_dict({"audio": audio, **cols})
            ctx.record.setdefault("files", []).append(str(tsv))
        else:
            files = self.parquet_files(root, split)
            if not files:
                raise SourceError(f"{root}: no {split}.tsv, {split}/*.parquet or {split}*.parquet for split '{split}'.")
            ds = load_parquet_files(files, ctx)
            if "audio" not in ds.column_names:
                raise SourceError(f"{files[0]}: no 'audio' column (columns: {', '.join(ds.column_names)}). A local "
                                  "parquet needs the audio in a column named 'audio' (an Audio struct with bytes "
                                  "and path, or plain bytes).")
            ctx.record.setdefault("files", []).extend(files)
        if "language" not in ds.column_names:
            if not self.single_language:
                raise SourceError(f"{root}/{split}: a multi-language config needs a 'language' column.")
            ds = ds.add_column("language", [self.single_language] * len(ds))
        if "id" not in ds.column_names:
            ds = ds.add_column("id", [f"{split}-{i}" for i in range(len(ds))])
        if "duration" not in ds.column_names:
            ds = add_header_durations(ds, ctx)
        return ds


def resolve_audio_path(root: Path, rel: str, manifest: Path, row: int) -> str:
    try:
        return str((root / rel).resolve())
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise SourceError(f"{manifest}: row {row + 1} (after the header): cannot resolve {rel!r}: {err}.") from None
