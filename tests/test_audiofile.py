"""Audio files: our reader and writer against sox, the independent peer, and bad files."""

import subprocess

import numpy as np
import pytest

from drivers import DriverError
from drivers.audiofile import encode_wav, read_audio, write_wav
from dsp import g711
from dsp.resample import resample


def sox(*args):
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


def sox_raw_8k(path):
    """What sox decodes ``path`` to, as 8 kHz mono s16 (sox's own resampler and mixer)."""
    out = subprocess.run(
        ["sox", str(path), "-t", "raw", "-e", "signed-integer", "-b", "16", "-r", "8000", "-c", "1", "-"],
        check=True, capture_output=True,
    ).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float64)


@pytest.fixture
def speechlike():
    rng = np.random.default_rng(7)
    t = np.arange(16000) / 8000.0
    return (6000 * np.sin(2 * np.pi * 440 * t) + 3000 * np.sin(2 * np.pi * 1234 * t)
            + 300 * rng.standard_normal(t.size)).astype(np.int16)


@pytest.mark.parametrize("encoding,sox_encoding", [("pcm16", "Signed Integer PCM"),
                                                    ("ulaw", "u-law"), ("alaw", "A-law")])
def test_sox_reads_what_we_write(tmp_path, speechlike, encoding, sox_encoding):
    path = tmp_path / f"out-{encoding}.wav"
    write_wav(path, speechlike, encoding)
    info = subprocess.run(["soxi", str(path)], capture_output=True, text=True, check=True).stdout
    assert sox_encoding in info and "Sample Rate    : 8000" in info
    decoded = sox_raw_8k(path)
    expected = {"pcm16": speechlike, "ulaw": g711.ulaw_roundtrip(speechlike),
                "alaw": g711.alaw_roundtrip(speechlike)}[encoding]
    # sox decodes G.711 with the same tables: exact for all three.
    np.testing.assert_array_equal(decoded, expected)
    np.testing.assert_array_equal(read_audio(path), expected)


@pytest.mark.parametrize("sox_args", [
    ["-r", "8000", "-e", "u-law"],
    ["-r", "8000", "-e", "a-law"],
    ["-r", "8000", "-b", "8", "-e", "unsigned-integer"],
    ["-r", "8000", "-b", "24"],
    ["-r", "8000", "-b", "32", "-e", "floating-point"],
    ["-r", "8000", "-c", "2"],
])
def test_we_read_what_sox_writes_at_8k(tmp_path, speechlike, sox_args):
    source = tmp_path / "source.wav"
    write_wav(source, speechlike)
    converted = tmp_path / "converted.wav"
    sox(source, *sox_args, converted)
    ours = read_audio(converted).astype(np.float64)
    theirs = sox_raw_8k(converted)
    assert ours.shape == theirs.shape
    # 8-bit and G.711 are coarse, but both sides decode the same bytes: within one LSB
    # of sox's own 16-bit rounding of the same values.
    assert np.max(np.abs(ours - theirs)) <= 1.0


@pytest.mark.parametrize("rate", [11025, 16000, 22050, 44100, 48000])
def test_other_rates_are_resampled_like_sox_does(tmp_path, speechlike, rate):
    source = tmp_path / "source.wav"
    write_wav(source, speechlike)
    converted = tmp_path / f"at{rate}.wav"
    sox(source, "-r", str(rate), converted)
    ours = read_audio(converted).astype(np.float64)
    theirs = sox_raw_8k(converted)
    n = min(len(ours), len(theirs))
    assert abs(len(ours) - len(theirs)) <= 1
    core = slice(200, n - 200)
    error = ours[:n][core] - theirs[:n][core]
    snr_db = 10 * np.log10(np.mean(theirs[:n][core] ** 2) / np.mean(error**2))
    assert snr_db > 40.0, f"our resampling differs from sox's by {snr_db:.1f} dB SNR"


@pytest.mark.parametrize("rate", [11025, 16000, 44100, 48000])
def test_resampler_passband_flat_and_stopband_clean(rate):
    t = np.arange(rate) / rate
    for freq in (100.0, 1000.0, 3000.0, 3400.0):
        out = resample(np.sin(2 * np.pi * freq * t), rate, 8000)[400:-400]
        gain_db = 20 * np.log10(np.sqrt(2 * np.mean(out**2)))
        assert abs(gain_db) < 0.1, f"{freq} Hz from {rate} Hz: {gain_db:.3f} dB"
    for freq in (4600.0, 6000.0, min(rate / 2 - 100, 20000.0)):
        if freq >= rate / 2:
            continue
        out = resample(np.sin(2 * np.pi * freq * t), rate, 8000)[400:-400]
        alias_db = 20 * np.log10(np.sqrt(2 * np.mean(out**2)) + 1e-12)
        assert alias_db < -60.0, f"{freq} Hz from {rate} Hz aliases at {alias_db:.1f} dB"


def test_raw_input(tmp_path, speechlike):
    path = tmp_path / "in.raw"
    path.write_bytes(speechlike.astype("<i2").tobytes())
    np.testing.assert_array_equal(read_audio(path, raw=True), speechlike)


@pytest.mark.parametrize("content,message", [
    (b"", "not a WAV file"),
    (b"ID3\x03\x00garbage-mp3-ish-bytes", "not a WAV file"),
    (b"RIFF\x24\x00\x00\x00WAVEdata\x04\x00\x00\x00\x00\x00\x00\x00", "no fmt chunk"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(DriverError, match=message) as caught:
        read_audio(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_truncated_data_chunk_is_reported(tmp_path, speechlike):
    good = encode_wav(speechlike)
    path = tmp_path / "cut.wav"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DriverError, match="data chunk truncated"):
        read_audio(path)


def test_unsupported_encoding_and_missing_file(tmp_path, speechlike):
    adpcm = bytearray(encode_wav(speechlike))
    adpcm[20:22] = (0x0011).to_bytes(2, "little")  # IMA ADPCM
    path = tmp_path / "adpcm.wav"
    path.write_bytes(bytes(adpcm))
    with pytest.raises(DriverError, match="unsupported WAV encoding: format 0x0011"):
        read_audio(path)
    with pytest.raises(DriverError, match="cannot read"):
        read_audio(tmp_path / "missing.wav")
    with pytest.raises(DriverError, match="odd number of bytes"):
        (tmp_path / "odd.raw").write_bytes(b"\x01\x02\x03")
        read_audio(tmp_path / "odd.raw", raw=True)


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, speechlike):
    path = tmp_path / "prompt.wav"
    write_wav(path, speechlike)
    write_wav(path, speechlike[:100], "ulaw")
    assert [p.name for p in tmp_path.iterdir()] == ["prompt.wav"]
    assert len(read_audio(path)) == 100
    with pytest.raises(DriverError, match="unknown WAV encoding"):
        write_wav(path, speechlike, "mp3")
    assert len(read_audio(path)) == 100
