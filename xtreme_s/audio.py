"""Audio decoding with soundfile and resampling with soxr.

Why not `datasets.Audio` decoding: since datasets 4 it needs torchcodec + FFmpeg, which many machines lack
(ROCm, CPU-only, no FFmpeg) and which changed decoded samples between releases. libsndfile reads WAV, FLAC,
OGG, MP3 and NIST SPHERE (PCM), which covers every XTREME-S source, and soxr resamples deterministically.
Decoding happens lazily in DataLoader workers: nothing here is cached.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from . import parquet_audio


class AudioDecodeError(RuntimeError):
    """A clip that cannot be decoded (corrupt, truncated, unsupported format)."""


def _open(audio: dict[str, Any]) -> Any:
    """A file-like or path soundfile can read; bytes win over the path, as in `datasets`."""
    data = audio.get("bytes")
    if data is not None:  # what the row holds: empty bytes are bad audio, never a reason to look for a file
        if not data:
            raise AudioDecodeError("the audio cell holds empty bytes")
        return io.BytesIO(data)
    path = audio.get("path")
    if not path:
        raise AudioDecodeError("audio entry has neither bytes nor a path")
    if parquet_audio.parse_ref(path) is not None:  # a row of a source parquet file, read in place
        try:
            data, original = parquet_audio.read_ref(path)
        except parquet_audio.ParquetAudioError as err:
            raise AudioDecodeError(f"cannot read audio {path!r}: {err}") from err
        if data is not None:  # empty bytes are bad audio, never a file of the cell's name to open instead
            if not data:
                raise AudioDecodeError(f"audio {path!r} holds empty bytes in its parquet file")
            return io.BytesIO(data)
        if not original:
            raise AudioDecodeError(f"audio {path!r} has neither bytes nor a path in its parquet file")
        return original
    return path


@dataclass(frozen=True)
class AudioInfo:
    sampling_rate: int
    num_frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.sampling_rate if self.sampling_rate else 0.0


def audio_info(audio: dict[str, Any]) -> AudioInfo:
    """Header-only read: the duration of a clip without decoding it."""
    try:
        info = sf.info(_open(audio))
    except Exception as err:  # soundfile raises several types for bad input
        raise AudioDecodeError(f"cannot read audio header of {audio.get('path')!r}: {err}") from err
    return AudioInfo(int(info.samplerate), int(info.frames), int(info.channels))


def load_audio(
    audio: dict[str, Any],
    sampling_rate: int,
    start: float | None = None,
    end: float | None = None,
) -> np.ndarray:
    """Decode a clip (or the segment [start, end) seconds of it) to mono float32 at `sampling_rate`."""
    source = _open(audio)
    try:
        with sf.SoundFile(source) as f:
            native_sr = f.samplerate
            if start:
                f.seek(min(int(round(start * native_sr)), f.frames))
            frames = -1 if end is None else max(0, int(round((end - (start or 0.0)) * native_sr)))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except Exception as err:
        raise AudioDecodeError(f"cannot decode audio {audio.get('path')!r}: {err}") from err
    wav = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if native_sr != sampling_rate and wav.size:
        wav = soxr.resample(wav, native_sr, sampling_rate, quality="HQ")
    return np.ascontiguousarray(wav, dtype=np.float32)
