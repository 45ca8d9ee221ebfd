"""IARPA BABEL (LDC, manual download only): conversational telephone speech cut into transcribed segments."""

from __future__ import annotations

import random
import re
from pathlib import Path

from datasets import Dataset

from .base import LoadContext, SourceAdapter, SourceError, require_data_dir, to_common_schema

# Noise and event tags removed from BABEL transcripts, as the reference loader did (spec 3.4).
BABEL_TAGS = ("(()) <no-speech> <sta> <int> <hes> <laugh> <breath> <foreign> <cough> <lipsmack> <click> <prompt> "
              "<dtmf> <overlap> <ring> <male-to-female> <female-to-male>").split()
BABEL_LDC = {"as": "IARPA_BABEL_OP1_102_LDC2016S06", "ka": "IARPA_BABEL_OP3_404_LDC2016S12",
             "lo": "IARPA_Babel_203_LDC2017S08", "sw": "IARPA_BABEL_OP2_202_LDC2017S05",
             "tl": "IARPA_BABEL_BP_106_LDC2016S13"}


def parse_babel_transcript(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) segments of a BABEL transcription: alternating `[time]` and text lines."""
    times: list[float] = []
    texts: list[str] = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        line = line.strip()
        if k % 2 == 0:
            if not (line.startswith("[") and line.endswith("]")):
                raise SourceError(f"{path}:{k + 1}: expected a [time] line, got {line!r}")
            try:
                times.append(float(line[1:-1]))
            except ValueError:
                raise SourceError(f"{path}:{k + 1}: {line!r} is not a [time] line (seconds in brackets).") from None
        else:
            for tag in BABEL_TAGS:
                line = line.replace(tag, " ")
            texts.append(re.sub(r"\s+", " ", line).strip())
    return [(times[i], times[i + 1], t) for i, t in enumerate(texts) if t and i + 1 < len(times)]


class BabelAdapter(SourceAdapter):
    name = "babel"
    manual_download = True  # from the LDC only: --data_dir is the extracted package
    mini_data_dir = "local/babel"

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        ldc = BABEL_LDC[language]
        instructions = (f"get {ldc.split('_')[-1]} from https://catalog.ldc.upenn.edu/{ldc.split('_')[-1]} and "
                        f"extract {ldc}.zip so that <data_dir>/conversational/{{training,dev}}/{{audio,"
                        "transcription}} exist (or <data_dir>/<package folder>/conversational/...).")
        root = require_data_dir(ctx, f"BABEL {language}", instructions)
        conv = root / "conversational"
        if not conv.is_dir():
            found = sorted(root.glob("*/conversational"))
            if not found:
                raise SourceError(f"No conversational/ folder under {root}. {instructions}")
            conv = found[0]
        part = "dev" if split == "test" else "training"
        segments = []
        for trans in sorted((conv / part / "transcription").glob("*.txt")):
            audio = next((p for p in (conv / part / "audio" / (trans.stem + ext) for ext in (".sph", ".wav", ".flac"))
                          if p.is_file()), None)
            if audio is None:
                raise SourceError(f"BABEL: no audio (.sph/.wav) for {trans} in {conv / part / 'audio'}")
            for k, (start, end, text) in enumerate(parse_babel_transcript(trans)):
                segments.append((f"{trans.stem}_{k + 1}", str(audio), start, end, text))
        if split != "test":
            # The reference loader: shuffle training segments with seed 42, first 90 % train, last 10 % dev.
            random.Random(42).shuffle(segments)
            cut = int(0.9 * len(segments))
            segments = segments[:cut] if split == "train" else segments[cut:]
        ds = Dataset.from_dict({
            "id": [s[0] for s in segments],
            "audio": [{"bytes": None, "path": s[1]} for s in segments],
            "segment_start": [s[2] for s in segments],
            "segment_end": [s[3] for s in segments],
            "transcription": [s[4] for s in segments],
        })
        return to_common_schema(ds, language, None, {}, ["transcription", "segment_start", "segment_end"],
                                lambda d: d.add_column("duration", [e - s for s, e in zip(
                                    d["segment_start"], d["segment_end"], strict=True)]), ctx)
