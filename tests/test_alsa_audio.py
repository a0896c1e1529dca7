"""The ALSA audio driver: the real pyalsaaudio path over an ALSA ``file`` PCM, and xruns.

alsa-lib reads its configuration once per process, so the real-path tests run the driver
in a subprocess whose ALSA_CONFIG_PATH names a config written here: two ``file`` PCMs over
a ``null`` slave, one for capture (its ``infile`` is what the "codec" captures) and one
for playback (its ``file`` receives what was played, interleaved S16_LE). Nothing paces a
null device, so these tests never measure time. Xrun handling is tested in-process with
fake PCMs that return what a real card returns on an overrun or underrun.
"""

from __future__ import annotations

import errno
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import alsaaudio
import numpy as np
import pytest

from drivers import DriverError
from drivers.alsa_audio import CAPTURE, PLAYBACK, AlsaAudio
from drivers.audio import TICK_SAMPLES, AudioDevice
from drivers.logs import configure_logging

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = 6


def write_alsa_config(folder: Path) -> Path:
    config = folder / "asound.conf"
    config.write_text(
        textwrap.dedent(
            f"""\
            pcm.linebox_capture {{
                type file
                slave.pcm {{ type null }}
                file "{folder / 'capture-tee.raw'}"
                infile "{folder / 'in.raw'}"
                format "raw"
            }}
            pcm.linebox_playback {{
                type file
                slave.pcm {{ type null }}
                file "{folder / 'out.raw'}"
                format "raw"
            }}
            """
        )
    )
    return config


DRIVER_SCRIPT = """
import json, sys
import numpy as np
from drivers.alsa_audio import AlsaAudio
args = json.loads(sys.argv[1])
audio = AlsaAudio("linebox_capture", "linebox_playback", ports=args["ports"], channels=args["channels"],
                  channel_map=args["channel_map"], prefill_periods=args["prefill"])
captured = np.stack([audio.read_frame() for _ in range(args["reads"])])
np.save(args["captured"], captured)
for i in range(args["writes"]):
    audio.write_frame(np.load(args["to_play"])[i])
counters = audio.counters
audio.close()
audio.close()
print(json.dumps({"xruns_capture": counters.xruns_capture, "xruns_playback": counters.xruns_playback}))
"""


def run_driver(tmp_path: Path, **args) -> dict:
    config = write_alsa_config(tmp_path)
    env = {"ALSA_CONFIG_PATH": str(config), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", DRIVER_SCRIPT, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_file_pcm_round_trip_is_interleaved_per_port(tmp_path):
    frames, ports = 5, 5
    channel_map = [3, 0, 5, 1, 2]  # port -> ALSA channel; channel 4 carries no port
    rng = np.random.default_rng(7)
    # What the codec "captures": channel c of sample s holds a value unique to (s, c).
    interleaved_in = rng.integers(-32768, 32768, size=(frames * TICK_SAMPLES, CHANNELS), dtype=np.int16)
    interleaved_in.astype("<i2").tofile(tmp_path / "in.raw")
    to_play = rng.integers(-32768, 32768, size=(frames, ports, TICK_SAMPLES), dtype=np.int16)
    np.save(tmp_path / "to_play.npy", to_play)
    counters = run_driver(
        tmp_path,
        ports=ports,
        channels=CHANNELS,
        channel_map=channel_map,
        prefill=0,
        reads=frames,
        writes=frames,
        captured=str(tmp_path / "captured.npy"),
        to_play=str(tmp_path / "to_play.npy"),
    )
    assert counters == {"xruns_capture": 0, "xruns_playback": 0}

    captured = np.load(tmp_path / "captured.npy")
    assert captured.dtype == np.int16 and captured.shape == (frames, ports, TICK_SAMPLES)
    for f in range(frames):
        block = interleaved_in[f * TICK_SAMPLES : (f + 1) * TICK_SAMPLES]
        for port, channel in enumerate(channel_map):
            np.testing.assert_array_equal(captured[f, port], block[:, channel])

    played = np.fromfile(tmp_path / "out.raw", dtype="<i2").reshape(-1, CHANNELS)
    assert played.shape == (frames * TICK_SAMPLES, CHANNELS)
    for f in range(frames):
        block = played[f * TICK_SAMPLES : (f + 1) * TICK_SAMPLES]
        for port, channel in enumerate(channel_map):
            np.testing.assert_array_equal(block[:, channel], to_play[f, port])
        assert not block[:, 4].any(), "a channel without a port must play silence"


def test_prefill_plays_silence_before_the_first_frame(tmp_path):
    (tmp_path / "in.raw").write_bytes(bytes(TICK_SAMPLES * 2 * 2))
    to_play = np.full((1, 2, TICK_SAMPLES), 1234, dtype=np.int16)
    np.save(tmp_path / "to_play.npy", to_play)
    run_driver(
        tmp_path,
        ports=2,
        channels=2,
        channel_map=[0, 1],
        prefill=2,
        reads=1,
        writes=1,
        captured=str(tmp_path / "captured.npy"),
        to_play=str(tmp_path / "to_play.npy"),
    )
    played = np.fromfile(tmp_path / "out.raw", dtype="<i2").reshape(-1, 2)
    assert played.shape == (3 * TICK_SAMPLES, 2)
    assert not played[: 2 * TICK_SAMPLES].any()
    assert (played[2 * TICK_SAMPLES :] == 1234).all()


def test_unknown_device_is_one_driver_error_line(tmp_path):
    config = write_alsa_config(tmp_path)
    script = "from drivers.alsa_audio import AlsaAudio\nAlsaAudio('no_such_pcm', 'linebox_playback', ports=2)"
    env = {"ALSA_CONFIG_PATH": str(config), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "drivers.DriverError: ALSA capture device 'no_such_pcm': cannot open" in result.stderr


# -- xruns with fake PCMs ---------------------------------------------------------------


class FakePcm:
    """Replays a script of results: ints/tuples to return, exceptions to raise."""

    def __init__(self, script: list, channels: int) -> None:
        self.script = list(script)
        self.channels = channels
        self.written: list[bytes] = []
        self.closed = False

    def _next(self):
        item = self.script.pop(0) if self.script else "ok"
        if isinstance(item, Exception):
            raise item
        return item

    def read(self):
        item = self._next()
        if item == "ok":
            item = TICK_SAMPLES
        if isinstance(item, tuple):
            return item
        if item < 0:
            return item, b""
        value = len(self.written) + 1  # arbitrary but recognisable
        return item, np.full((item, self.channels), value, dtype="<i2").tobytes()

    def write(self, data: bytes) -> int:
        item = self._next()
        frames = len(data) // (2 * self.channels)
        if item == "ok":
            self.written.append(data)
            return frames
        if isinstance(item, int) and item >= 0:
            self.written.append(data[: item * 2 * self.channels])
            return item
        return item

    def close(self) -> None:
        self.closed = True


class FakeCard:
    """A pcm_factory handing out scripted PCMs per direction, recording every open."""

    def __init__(self, capture_scripts: list[list], playback_scripts: list[list], channels: int = 2) -> None:
        self.scripts = {CAPTURE: list(capture_scripts), PLAYBACK: list(playback_scripts)}
        self.opened: list[FakePcm] = []
        self.channels = channels

    def __call__(self, direction: str, device: str, channels: int) -> FakePcm:
        scripts = self.scripts[direction]
        if not scripts:
            raise DriverError(f"ALSA {direction} device {device!r}: cannot open: No such device")
        pcm = FakePcm(scripts.pop(0), channels)
        pcm.direction = direction
        self.opened.append(pcm)
        return pcm


@pytest.fixture
def log_lines():
    import io

    stream = io.StringIO()
    configure_logging(stream, level=logging.INFO)
    return stream


def make_audio(card: FakeCard, **kwargs) -> AlsaAudio:
    return AlsaAudio("cap", "play", ports=2, prefill_periods=0, max_retries=3, pcm_factory=card, **kwargs)


def test_protocol_is_met():
    card = FakeCard([[]], [[]])
    audio = make_audio(card)
    assert isinstance(audio, AudioDevice)
    assert not isinstance(object(), AudioDevice)
    assert audio.read_frame().shape == (2, TICK_SAMPLES)


def test_overrun_is_counted_logged_and_recovered_by_prepare(log_lines):
    card = FakeCard([[-errno.EPIPE, "ok"]], [[]])
    audio = make_audio(card)
    frame = audio.read_frame()
    assert frame.shape == (2, TICK_SAMPLES) and frame.dtype == np.int16
    assert (audio.counters.xruns_capture, audio.counters.xruns_playback, audio.counters.recoveries) == (1, 0, 1)
    lines = log_lines.getvalue().splitlines()
    assert sum("event=audio_xrun direction=capture kind=overrun count=1" in line for line in lines) == 1
    assert sum("event=audio_recovered direction=capture method=prepare" in line for line in lines) == 1
    assert len(card.opened) == 2  # no re-open


def test_short_read_keeps_the_samples_and_completes_the_frame():
    card = FakeCard([[(100, np.arange(200, dtype="<i2").tobytes()), (TICK_SAMPLES, np.full(2 * TICK_SAMPLES, -1, "<i2").tobytes())]], [[]])
    audio = make_audio(card)
    frame = audio.read_frame()
    np.testing.assert_array_equal(frame[:, :100], np.arange(200).reshape(100, 2).T)
    assert (frame[:, 100:] == -1).all()
    second = audio.read_frame()  # the 100 frames left over from the second read come next
    assert second.shape == (2, TICK_SAMPLES)
    assert audio.counters.xruns_capture == 1


def test_repeated_overruns_reopen_the_device(log_lines):
    card = FakeCard([[-errno.EPIPE] * 3, ["ok"]], [[]])
    audio = make_audio(card)
    audio.read_frame()
    assert audio.counters.xruns_capture == 3
    assert audio.counters.recoveries == 1
    assert [pcm.direction for pcm in card.opened] == [CAPTURE, PLAYBACK, CAPTURE]
    assert card.opened[0].closed
    assert "event=audio_reopened direction=capture device=cap reason=retries_exhausted" in log_lines.getvalue()


def test_alsa_error_reopens_and_a_vanished_device_is_a_driver_error():
    card = FakeCard([[alsaaudio.ALSAAudioError("No such device [cap]")], ["ok"]], [[]])
    audio = make_audio(card)
    audio.read_frame()
    assert audio.counters.xruns_capture == 1 and audio.counters.recoveries == 1
    card2 = FakeCard([[alsaaudio.ALSAAudioError("No such device [cap]")]], [[]])
    audio2 = make_audio(card2)
    with pytest.raises(DriverError, match="cannot open: No such device"):
        audio2.read_frame()


@pytest.mark.parametrize("underrun", [-errno.EPIPE, alsaaudio.ALSAAudioError("Broken pipe [play]")])
def test_underrun_is_counted_and_the_frame_is_written_again(underrun, log_lines):
    card = FakeCard([[]], [[underrun, "ok"]])
    audio = make_audio(card)
    frame = np.arange(2 * TICK_SAMPLES, dtype=np.int16).reshape(2, TICK_SAMPLES)
    audio.write_frame(frame)
    playback = card.opened[1]
    assert len(playback.written) == 1
    np.testing.assert_array_equal(np.frombuffer(playback.written[0], "<i2").reshape(TICK_SAMPLES, 2).T, frame)
    assert (audio.counters.xruns_playback, audio.counters.recoveries) == (1, 1)
    assert "event=audio_xrun direction=playback kind=underrun count=1" in log_lines.getvalue()


def test_short_write_sends_the_rest():
    card = FakeCard([[]], [[60, "ok"]])
    audio = make_audio(card)
    frame = np.arange(2 * TICK_SAMPLES, dtype=np.int16).reshape(2, TICK_SAMPLES)
    audio.write_frame(frame)
    data = b"".join(card.opened[1].written)
    np.testing.assert_array_equal(np.frombuffer(data, "<i2").reshape(TICK_SAMPLES, 2).T, frame)
    assert audio.counters.xruns_playback == 1


@pytest.mark.parametrize(
    "frame, message",
    [
        (np.zeros((2, TICK_SAMPLES), dtype=np.float64), "must be int16"),
        (np.zeros((3, TICK_SAMPLES), dtype=np.int16), r"shaped \(2, 160\)"),
        (np.zeros((2, 80), dtype=np.int16), r"shaped \(2, 160\)"),
        ([[0] * TICK_SAMPLES] * 2, "numpy array"),
    ],
)
def test_bad_frames_are_refused_and_nothing_is_played(frame, message):
    card = FakeCard([[]], [[]])
    audio = make_audio(card)
    with pytest.raises(DriverError, match=message):
        audio.write_frame(frame)
    assert card.opened[1].written == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"channel_map": [0, 0]}, "distinct channels"),
        ({"channel_map": [0]}, "1 entries for 2 ports"),
        ({"channels": 2, "channel_map": [0, 2]}, "distinct channels"),
    ],
)
def test_bad_channel_maps_are_refused(kwargs, message):
    with pytest.raises(DriverError, match=message):
        make_audio(FakeCard([[]], [[]]), **kwargs)


def test_closed_device_refuses_io_and_close_is_idempotent():
    card = FakeCard([[]], [[]])
    audio = make_audio(card)
    audio.close()
    audio.close()
    assert all(pcm.closed for pcm in card.opened)
    with pytest.raises(DriverError, match="closed"):
        audio.read_frame()
