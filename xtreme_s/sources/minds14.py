"""MInDS-14 (PolyAI/minds14): one file per locale; the XTREME-S split is a list of ids kept in google/xtreme_s."""

from __future__ import annotations

from datasets import Dataset

from .base import LoadContext, SourceError, to_common_schema
from .hub import HubAdapter, SplitSurvey, hf_open, resolve_hub_files


class Minds14Adapter(HubAdapter):
    name = "minds14"
    repo = "PolyAI/minds14"
    # Pinned by public code that loads it (e.g. `SAMPLE_DATASET_REVISION = '40ce77cb...'`, and dataset-card links at
    # huggingface.co/datasets/PolyAI/minds14/tree/40ce77cb32a384e4d50a568e1ec39ac804019d33); the per-locale
    # `<locale>/train-00000-of-00001.parquet` files are read there.
    revision = "40ce77cb32a384e4d50a568e1ec39ac804019d33"
    # The XTREME-S train/dev/test membership lives in the google/xtreme_s repo, not in PolyAI/minds14.
    splits_repo = "google/xtreme_s"
    splits_revision = "6689ba8f1044a59f860da50852eca5f09a01f8f2"
    split_names = {"train": "train", "validation": "dev", "test": "test"}
    file_split = "train"  # the split name of the one file of a locale, whichever split is read

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        return [f"{language}/*.parquet", f"{language}/**/*.parquet", f"data/{language}*.parquet"]

    def split_ids(self, language: str, split: str, ctx: LoadContext) -> set[str]:
        """The `<intent>/<file>` ids of one XTREME-S split of a locale."""
        name = f"minds14_splits/{self.split_names[split]}_{language}.tsv"
        (path,) = resolve_hub_files(self.splits_repo, self.splits_revision, [name], ctx)
        opener = open if ctx.mirror else hf_open(ctx)
        with opener(path, encoding="utf-8") as f:
            return {line.split("\t")[0].strip() for line in f if line.strip()}

    def survey(self, language: str, split: str, ctx: LoadContext) -> SplitSurvey:
        """The locale's one file; rows: the split's id list."""
        return SplitSurvey(self.plan(language, self.file_split, ctx), len(self.split_ids(language, split, ctx)), None)

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        # One file holds every row of a locale: the same for each split, the ids below choose.
        ds = self.read_hub(language, self.file_split, ctx)
        keep = self.split_ids(language, split, ctx)
        rel = ["/".join(p.replace("\\", "/").split("/")[-2:]) for p in ds["path"]]
        ds = ds.add_column("rel_path", rel)
        idx = [i for i, r in enumerate(rel) if r in keep]
        if not idx:
            raise SourceError(f"No MInDS-14 {language} rows match the {split} ids of {self.splits_repo}.")
        ds = ds.select(idx)
        return to_common_schema(ds, language, "rel_path", {},
                                ["transcription", "english_transcription", "intent_class", "lang_id"], None, ctx)
