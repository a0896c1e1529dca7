"""Audio files in and out of the box: WAV (PCM, IEEE float, G.711 µ-law/A-law) and raw PCM.

Everything the box reads is turned into 8 kHz mono 16-bit linear samples: channels are
averaged, other sample rates are resampled (``dsp.resample``), G.711 is decoded bit-exact.
A file that cannot be read gives one ``DriverError`` line saying why; nothing is half-read.
Writes go to a temporary file in the same folder, are fsynced and renamed into place, so a
power cut leaves either the old file or the new one.
"""

from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivers import DriverError
from dsp import SAMPLE_RATE, g711
from dsp.resample import resample

FORMAT_PCM = 0x0001
FORMAT_FLOAT = 0x0003
FORMAT_ALAW = 0x0006
FORMAT_ULAW = 0x0007
FORMAT_EXTENSIBLE = 0xFFFE
STREAMING_SIZES = (0, 0xFFFFFFFF)  # data sizes written by recorders that never went back
ENCODINGS = {"pcm16": FORMAT_PCM, "ulaw": FORMAT_ULAW, "alaw": FORMAT_ALAW}


@dataclass(frozen=True)
class WavFormat:
    format_code: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    block_align: int


def read_audio(path: str | os.PathLike, raw: bool = False) -> np.ndarray:
    """The file as 8 kHz mono int16. ``raw``: headerless 8 kHz signed 16-bit little-endian."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DriverError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if raw:
        if len(data) % 2:
            raise DriverError(f"{path}: raw 16-bit audio has an odd number of bytes ({len(data)})")
        return np.frombuffer(data, dtype="<i2").astype(np.int16)
    try:
        return _decode_wav(data)
    except DriverError as exc:
        raise DriverError(f"{path}: {exc}") from None


def _decode_wav(data: bytes) -> np.ndarray:
    if len(data) < 12 or data[0:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise DriverError("not a WAV file (no RIFF/WAVE header)")
    fmt: WavFormat | None = None
    payload: bytes | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body_start = offset + 8
        available = len(data) - body_start
        if chunk_id == b"data":
            if size > available and size not in STREAMING_SIZES:
                raise DriverError(f"data chunk truncated: header says {size} bytes, file has {available}")
            payload = data[body_start : body_start + (available if size in STREAMING_SIZES else size)]
            if size in STREAMING_SIZES:
                break
        elif chunk_id == b"fmt ":
            if size < 16 or size > available:
                raise DriverError(f"fmt chunk of {size} bytes is malformed")
            fmt = _parse_fmt(data[body_start : body_start + size])
        offset = body_start + size + (size & 1)  # chunks are padded to even sizes
    if fmt is None:
        raise DriverError("no fmt chunk")
    if payload is None:
        raise DriverError("no data chunk")
    return _to_box_audio(_samples(payload, fmt), fmt)


def _parse_fmt(body: bytes) -> WavFormat:
    code, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if code == FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise DriverError("extensible fmt chunk is too short")
        code = struct.unpack_from("<H", body, 24)[0]  # first two bytes of the sub-format GUID
    if channels < 1 or rate < 1 or block_align < 1:
        raise DriverError(f"fmt chunk is invalid: channels={channels} rate={rate} block_align={block_align}")
    return WavFormat(code, channels, rate, bits, block_align)


def _samples(payload: bytes, fmt: WavFormat) -> np.ndarray:
    """Interleaved frames as float64 on the 16-bit scale, shaped (frames, channels)."""
    frames = len(payload) // fmt.block_align
    payload = payload[: frames * fmt.block_align]
    width = fmt.block_align // fmt.channels
    if fmt.format_code in (FORMAT_ULAW, FORMAT_ALAW) and width == 1:
        codes = np.frombuffer(payload, dtype=np.uint8)
        decode = g711.ulaw_decode if fmt.format_code == FORMAT_ULAW else g711.alaw_decode
        values = decode(codes).astype(np.float64)
    elif fmt.format_code == FORMAT_PCM and width == 1:
        values = (np.frombuffer(payload, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif fmt.format_code == FORMAT_PCM and width == 2:
        values = np.frombuffer(payload, dtype="<i2").astype(np.float64)
    elif fmt.format_code == FORMAT_PCM and width == 3:
        raw = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = ((raw[:, 0] << 8 | raw[:, 1] << 16 | raw[:, 2] << 24) >> 8).astype(np.float64) / 256.0
    elif fmt.format_code == FORMAT_PCM and width == 4:
        values = np.frombuffer(payload, dtype="<i4").astype(np.float64) / 65536.0
    elif fmt.format_code == FORMAT_FLOAT and width in (4, 8):
        values = np.frombuffer(payload, dtype="<f4" if width == 4 else "<f8").astype(np.float64) * 32768.0
        if not np.all(np.isfinite(values)):
            raise DriverError("float samples contain NaN or infinity")
    else:
        raise DriverError(f"unsupported WAV encoding: format 0x{fmt.format_code:04x}, {fmt.bits_per_sample} bits")
    return values.reshape(frames, fmt.channels)


def _to_box_audio(frames: np.ndarray, fmt: WavFormat) -> np.ndarray:
    mono = frames[:, 0] if fmt.channels == 1 else frames.mean(axis=1)
    if fmt.sample_rate != SAMPLE_RATE:
        mono = resample(mono, fmt.sample_rate, SAMPLE_RATE)
    return np.clip(np.rint(mono), -32768, 32767).astype(np.int16)


def encode_wav(samples: np.ndarray, encoding: str = "pcm16") -> bytes:
    """8 kHz mono WAV bytes of ``samples`` (16-bit scale; floats are rounded and clipped)."""
    if encoding not in ENCODINGS:
        raise DriverError(f"unknown WAV encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise DriverError(f"write_wav needs mono 1-D samples, got shape {samples.shape}")
    linear = np.clip(np.rint(samples.astype(np.float64)), -32768, 32767).astype("<i2")
    code = ENCODINGS[encoding]
    if encoding == "pcm16":
        payload, width = linear.tobytes(), 2
        fmt_body = struct.pack("<HHIIHH", code, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    else:
        encode = g711.ulaw_encode if encoding == "ulaw" else g711.alaw_encode
        payload, width = encode(linear).tobytes(), 1
        # Non-PCM formats carry cbSize and a fact chunk with the sample count.
        fmt_body = struct.pack("<HHIIHHH", code, 1, SAMPLE_RATE, SAMPLE_RATE, 1, 8, 0)
    chunks = [b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body]
    if width == 1:
        chunks.append(b"fact" + struct.pack("<II", 4, len(linear)))
    chunks.append(b"data" + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b""))
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path: str | os.PathLike, samples: np.ndarray, encoding: str = "pcm16") -> None:
    """Writes ``samples`` as an 8 kHz mono WAV file, atomically."""
    atomic_write_bytes(Path(path), encode_wav(samples, encoding))


def _current_umask() -> int:
    """The process umask, read without changing it (os.umask would race other threads)."""
    try:
        status = Path("/proc/self/status").read_text().splitlines()
        return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, ValueError, StopIteration):
        return 0o022  # not Linux, or no Umask line: the usual default


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename, fsync the folder."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise DriverError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    try:
        # mkstemp makes the file private (0600); a written prompt or recording gets the
        # permissions any new file would get under the process's umask.
        os.fchmod(handle, 0o666 & ~_current_umask())
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)
    except OSError as exc:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise DriverError(f"{path}: cannot write: {exc.strerror or exc}") from exc
