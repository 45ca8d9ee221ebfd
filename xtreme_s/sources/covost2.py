"""CoVoST-2 X->en: fixie-ai/covost2 on the Hub, or Common Voice 4 + the CoVoST-2 TSVs downloaded by hand."""

from __future__ import annotations

import os

from datasets import Audio, Dataset

from .base import LanguageUnavailable, LoadContext, SourceError, require_data_dir, to_common_schema
from .hub import HubAdapter
from .tsv import read_manifest


class Covost2Adapter(HubAdapter):
    name = "covost2"
    # The 21 X->en directions as parquet, one config per direction (`fr_en`, `zh-CN_en`, ...), files
    # `<config>/<split>-NNNNN-of-NNNNN.parquet`, splits train (= CoVoST train + train_covost)/validation/test. Pinned
    # to the commit public code downloads from (`SOURCE_REVISION="17c8c81e..."`, zh-CN_en/validation-0000N-of-00008).
    repo = "fixie-ai/covost2"
    revision = "17c8c81e331e7a6929118121771a58c7ef7331d8"
    manual_download = True  # --data_dir: Common Voice 4 + covost_v2.<lang>_en.tsv (read by load_manual)
    cv_names = {"zh": "zh-CN", "sv": "sv-SE"}  # Common Voice 4 folder names differ for these two
    # Column variants: the covost2 loading script's `sentence`/`translation`/`file`/`id`, and other spellings.
    transcription_columns = ("sentence", "transcription")
    translation_columns = ("translation",)
    file_columns = ("file", "path")
    instructions = ("download Common Voice v4 (cv-corpus-4-2019-12-10) for the source language and extract it "
                    "so that <data_dir>/<lang>/clips/*.mp3 and <data_dir>/<lang>/validated.tsv exist (lang as "
                    "Common Voice names it: fr, de, zh-CN, sv-SE, ...), and put the CoVoST-2 file "
                    "covost_v2.<lang>_en.tsv (from covost_v2.<lang>_en.tsv.tar.gz) in <data_dir>.")

    def config(self, language: str) -> str:
        return f"{self.cv_names.get(language, language)}_en"

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        config, s = self.config(language), self.split_names[split]
        return [f"{config}/{s}-*.parquet", f"{config}/{s}/*.parquet"]

    def language_folders(self, language: str) -> list[str]:
        return [self.config(language)]

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        if not ctx.data_dir:
            return self.load_hub(language, split, ctx)
        return self.load_manual(language, split, ctx)

    def load_hub(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        try:
            ds = self.read_hub(language, split, ctx)
        except LanguageUnavailable as err:
            raise LanguageUnavailable(f"CoVoST-2 {language}->en: {err}. Without the Hub, {self.instructions} Then "
                                      "pass --data_dir=<that folder>.") from err
        cols = ds.column_names
        where = f"{self.repo} {self.config(language)} {split}"

        def pick(names: tuple[str, ...], what: str) -> str:
            found = next((c for c in names if c in cols), None)
            if found is None:
                raise SourceError(f"{where}: no {what} column (looked for {', '.join(names)}; the files have "
                                  f"{', '.join(cols)}). Pin another --dataset_revision, or use --data_dir with "
                                  "Common Voice 4.")
            return found

        if "audio" not in cols or not isinstance(ds.features["audio"], Audio):
            raise SourceError(f"{where}: no audio column of bytes + path (columns: {', '.join(cols)}).")
        transcription, translation = pick(self.transcription_columns, "transcript"), \
            pick(self.translation_columns, "translation")
        if "id" not in cols:
            names = ds[pick(self.file_columns, "id or file")]
            ds = ds.add_column("id", [os.path.splitext(os.path.basename(n or ""))[0] for n in names])
        ds = ds.rename_columns({k: v for k, v in ((transcription, "transcription"), (translation, "translation"))
                                if k != v})
        return to_common_schema(ds, language, None, {}, ["transcription", "translation"], None, ctx)

    def load_manual(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        root = require_data_dir(ctx, "CoVoST-2", self.instructions)
        cv = self.cv_names.get(language, language)
        lang_dir = root / cv
        covost = next((p for p in (root / f"covost_v2.{cv}_en.tsv", lang_dir / f"covost_v2.{cv}_en.tsv")
                       if p.is_file()), None)
        if not lang_dir.exists() and covost is None:
            # Not downloaded at all: covost2.all leaves it out (recorded as languages_missing); a single
            # direction still fails with the instructions.
            raise LanguageUnavailable(f"CoVoST-2 {language}->en: neither {lang_dir} nor covost_v2.{cv}_en.tsv is "
                                      f"in {root}. {self.instructions}")
        if not (lang_dir / "validated.tsv").is_file() or covost is None:
            raise SourceError(f"CoVoST-2 {language}->en: missing {lang_dir / 'validated.tsv'} or "
                              f"covost_v2.{cv}_en.tsv. {self.instructions}")
        sentences = {r["path"]: r for r in read_manifest(lang_dir / "validated.tsv", "\\", ("path", "sentence"))}
        wanted = {"train": ("train", "train_covost"), "validation": ("dev",), "test": ("test",)}[split]
        rows = [r for r in read_manifest(covost, "\\", ("path", "translation", "split"))
                if r["split"] in wanted and r["path"] in sentences]
        if not rows:
            raise SourceError(f"CoVoST-2 {language}->en {split}: no rows of {covost} join {lang_dir/'validated.tsv'}.")
        ctx.record.setdefault("files", []).append(str(covost))
        ds = Dataset.from_dict({
            "id": [r["path"] for r in rows],
            "audio": [{"bytes": None, "path": str(lang_dir / "clips" / r["path"])} for r in rows],
            "transcription": [sentences[r["path"]]["sentence"] for r in rows],
            "translation": [r["translation"] for r in rows],
        })
        return to_common_schema(ds, language, None, {}, ["transcription", "translation"], None, ctx)
