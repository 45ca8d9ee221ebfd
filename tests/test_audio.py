"""Decoding (soundfile) and resampling (soxr) of clips."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from xtreme_s.audio import AudioDecodeError, audio_info, load_audio


def sine(freq: float, sr: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(sr * seconds))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(wav: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return float(np.fft.rfftfreq(len(wav), 1 / sr)[np.argmax(spectrum)])


def wav_bytes(data: np.ndarray, sr: int, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, data, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def test_load_from_bytes_exact():
    x = sine(440, 16_000)
    y = load_audio({"bytes": wav_bytes(x, 16_000, subtype="FLOAT"), "path": None}, 16_000)
    assert y.dtype == np.float32 and y.ndim == 1
    np.testing.assert_array_equal(y, x)


def test_bytes_win_over_path():
    x = sine(440, 16_000, 0.1)
    y = load_audio({"bytes": wav_bytes(x, 16_000, subtype="FLOAT"), "path": "/does/not/exist.wav"}, 16_000)
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize(("ext", "atol"), [("wav", 1e-4), ("flac", 1e-4)])
def test_load_lossless_files_from_path(tmp_path, ext, atol):
    x = sine(440, 16_000)
    path = tmp_path / f"clip.{ext}"
    sf.write(path, x, 16_000)  # PCM_16
    y = load_audio({"bytes": None, "path": str(path)}, 16_000)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=atol)


def test_load_mp3_from_path(tmp_path):
    x = sine(440, 16_000)
    path = tmp_path / "clip.mp3"
    sf.write(path, x, 16_000)
    y = load_audio({"path": str(path)}, 16_000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - len(x)) <= 0.05 * len(x)
    assert abs(peak_hz(y, 16_000) - 440) <= 2
    assert abs(audio_info({"path": str(path)}).duration - 1.0) <= 0.05


def test_stereo_is_mixed_to_mono_by_mean():
    left = sine(440, 16_000, 0.5)
    right = sine(1000, 16_000, 0.5, amp=0.25)
    stereo = np.stack([left, right], axis=1)
    y = load_audio({"bytes": wav_bytes(stereo, 16_000, subtype="FLOAT")}, 16_000)
    assert y.shape == left.shape
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-7)


@pytest.mark.parametrize("native_sr", [8_000, 48_000])
def test_resampling_to_16k_keeps_length_and_frequency(native_sr):
    x = sine(440, native_sr, 1.0)
    y = load_audio({"bytes": wav_bytes(x, native_sr, subtype="FLOAT")}, 16_000)
    assert abs(len(y) - 16_000) <= 1
    assert abs(peak_hz(y, 16_000) - 440) <= 2
    # Amplitude survives too (no gain change); ignore filter edges.
    assert np.max(np.abs(y[1000:-1000])) == pytest.approx(0.5, abs=0.02)


def test_resampling_odd_length():
    x = sine(300, 8_000, 0.3337)  # 2670 samples
    y = load_audio({"bytes": wav_bytes(x, 8_000, subtype="FLOAT")}, 16_000)
    assert abs(len(y) - 2 * len(x)) <= 1


def test_segment_reads_start_inclusive_end_exclusive(tmp_path):
    ramp = np.arange(16_000, dtype=np.int16)  # sample i has value i
    path = tmp_path / "ramp.wav"
    sf.write(path, ramp, 16_000, subtype="PCM_16")
    seg = np.round(load_audio({"path": str(path)}, 16_000, start=0.25, end=0.5) * 32768).astype(int)
    np.testing.assert_array_equal(seg, np.arange(4_000, 8_000))
    head = np.round(load_audio({"path": str(path)}, 16_000, start=0.0, end=0.1) * 32768).astype(int)
    np.testing.assert_array_equal(head, np.arange(0, 1_600))
    tail = np.round(load_audio({"path": str(path)}, 16_000, start=0.9) * 32768).astype(int)
    np.testing.assert_array_equal(tail, np.arange(14_400, 16_000))
    # An end past the file stops at the file end.
    assert len(load_audio({"path": str(path)}, 16_000, start=0.9, end=5.0)) == 1_600


def test_segment_of_8k_file_is_resampled(tmp_path):
    path = tmp_path / "tel.wav"
    sf.write(path, sine(440, 8_000, 2.0), 8_000)
    seg = load_audio({"path": str(path)}, 16_000, start=0.5, end=1.25)
    assert abs(len(seg) - 12_000) <= 1  # 0.75 s at 16 kHz


def test_audio_info_from_header_without_decoding(tmp_path, monkeypatch):
    path = tmp_path / "a.flac"
    sf.write(path, sine(440, 8_000, 1.5), 8_000)
    data = wav_bytes(np.zeros((24_000, 2), dtype=np.float32), 48_000)

    def no_decoding(*args, **kwargs):
        raise AssertionError("audio_info decoded samples")

    monkeypatch.setattr(sf.SoundFile, "read", no_decoding)
    monkeypatch.setattr(sf, "read", no_decoding)
    info = audio_info({"bytes": None, "path": str(path)})
    assert (info.sampling_rate, info.num_frames, info.channels) == (8_000, 12_000, 1)
    assert info.duration == pytest.approx(1.5)
    info = audio_info({"bytes": data, "path": None})
    assert (info.sampling_rate, info.num_frames, info.channels) == (48_000, 24_000, 2)
    assert info.duration == pytest.approx(0.5)


def test_corrupt_bytes_raise_with_path():
    audio = {"bytes": b"not audio at all" * 64, "path": "/data/clips/broken_clip.wav"}
    with pytest.raises(AudioDecodeError, match="broken_clip.wav"):
        load_audio(audio, 16_000)
    with pytest.raises(AudioDecodeError, match="broken_clip.wav"):
        audio_info(audio)


def test_missing_file_and_empty_entry_raise(tmp_path):
    missing = str(tmp_path / "missing.wav")
    with pytest.raises(AudioDecodeError, match="missing.wav"):
        load_audio({"bytes": None, "path": missing}, 16_000)
    with pytest.raises(AudioDecodeError, match="missing.wav"):
        audio_info({"path": missing})
    with pytest.raises(AudioDecodeError):
        load_audio({"bytes": None, "path": None}, 16_000)
    assert issubclass(AudioDecodeError, RuntimeError)
