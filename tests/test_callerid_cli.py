"""``linebox dsp callerid encode|decode`` and ``dsp.callerid_decode.decode_recording``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from callerid_helpers import on_line

from drivers.audiofile import read_audio, write_wav
from dsp import DspError
from dsp.callerid import CallerId, encode_mdmf, encode_mwi, encode_sdmf
from dsp.callerid_decode import decode_recording
from dsp.callerid_dtmf import dtmf_callerid_audio
from dsp.callerid_fsk import fsk_burst
from linebox.cli import main


def run(argv: list[str], capsys) -> tuple[int, list[dict], str]:
    status = main(argv)
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return status, lines, err


def encode_then_decode(tmp_path, capsys, args: list[str], decode_args: list[str] | None = None):
    path = tmp_path / "cid.wav"
    status, _, err = run(["dsp", "callerid", "encode", *args, "-o", str(path)], capsys)
    assert status == 0, err
    return run(["dsp", "callerid", "decode", *(decode_args or []), str(path)], capsys)


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            [
                "--standard",
                "bell202",
                "--number",
                "8005551212",
                "--name",
                "JOHN DOE",
                "--datetime",
                "03240902",
            ],
            {
                "standard": "bell202",
                "format": "mdmf",
                "number": "8005551212",
                "name": "JOHN DOE",
                "datetime": "03240902",
            },
        ),
        (
            ["--standard", "bell202", "--number", "6095551212", "--datetime", "09301224", "--format", "sdmf"],
            {"standard": "bell202", "format": "sdmf", "number": "6095551212", "name": None},
        ),
        (
            ["--standard", "bell202", "--number", "123", "--variant", "type2"],
            {"standard": "bell202", "format": "mdmf", "number": "123"},
        ),
        (
            ["--standard", "v23", "--number", "01632960001", "--name", "ETSI"],
            {"standard": "v23", "format": "mdmf", "number": "01632960001", "name": "ETSI", "datetime": None},
        ),
        (
            [
                "--standard",
                "v23",
                "--number-absence",
                "private",
                "--name-absence",
                "unavailable",
                "--variant",
                "sin227",
            ],
            {"standard": "v23", "number": None, "number_absence": "private", "name_absence": "unavailable"},
        ),
        (
            ["--standard", "v23", "--number", "42", "--variant", "rpas", "--encoding", "alaw"],
            {"standard": "v23", "number": "42"},
        ),
        (
            ["--standard", "dtmf", "--number", "5551234"],
            {"standard": "dtmf", "format": "dtmf_ac", "number": "5551234"},
        ),
        (
            ["--standard", "dtmf", "--number-absence", "private", "--dtmf-framing", "hash"],
            {"standard": "dtmf", "format": "dtmf_hash", "number_absence": "private"},
        ),
        (["--standard", "bell202", "--mwi", "on"], {"format": "mdmf_mwi", "mwi": True, "number": None}),
        (["--standard", "v23", "--mwi", "off", "--format", "sdmf"], {"format": "sdmf_mwi", "mwi": False}),
        (["--standard", "bell202", "--number", "1", "--level", "-30", "--encoding", "ulaw"], {"number": "1"}),
    ],
)
def test_encode_decode_round_trip(tmp_path, capsys, args, expected):
    status, messages, err = encode_then_decode(tmp_path, capsys, args)
    assert status == 0, err
    assert len(messages) == 1
    message = messages[0]
    assert message["checksum_ok"] is True and message["error"] is None
    for key, value in expected.items():
        assert message[key] == value, key
    assert set(message) == {
        "standard",
        "format",
        "number",
        "name",
        "datetime",
        "number_absence",
        "name_absence",
        "mwi",
        "checksum_ok",
        "error",
        "start_ms",
    }


def test_file_layout(tmp_path, capsys):
    """Bell 202 type 1: 100 ms silence, seizure, 180 marks, message, 8 marks, 100 ms silence."""
    path = tmp_path / "b.wav"
    status, _, _ = run(
        ["dsp", "callerid", "encode", "--standard", "bell202", "--number", "1", "-o", str(path)], capsys
    )
    assert status == 0
    samples = read_audio(path)
    message_bits = 10 * len(encode_mdmf(CallerId(number="1")))
    assert len(samples) == 800 + int(np.ceil((300 + 180 + message_bits + 8) * 8000 / 1200)) + 800
    assert not samples[:800].any() and not samples[-800:].any() and samples[800:810].any()


def test_decode_explicit_standard_and_raw(tmp_path, capsys):
    x = on_line(fsk_burst(encode_mdmf(CallerId(number="999")), "v23"), seed=1, snr_db=20.0, lead=800)
    raw = tmp_path / "x.raw"
    raw.write_bytes(np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes())
    status, messages, _ = run(["dsp", "callerid", "decode", "--raw", "--standard", "v23", str(raw)], capsys)
    assert status == 0 and [m["number"] for m in messages] == ["999"] and messages[0]["standard"] == "v23"
    status, messages, _ = run(["dsp", "callerid", "decode", "--raw", "--standard", "dtmf", str(raw)], capsys)
    assert status == 1 and messages == []


def test_damaged_message_shows_no_number(tmp_path, capsys):
    damaged = bytearray(encode_mdmf(CallerId(number="8005551212")))
    damaged[5] ^= 0x01
    path = tmp_path / "bad.wav"
    write_wav(path, on_line(fsk_burst(bytes(damaged), "bell202"), seed=1, lead=800))
    status, messages, _ = run(["dsp", "callerid", "decode", str(path)], capsys)
    assert status == 0
    assert messages == [
        {
            "standard": "bell202",
            "format": "mdmf",
            "number": None,
            "name": None,
            "datetime": None,
            "number_absence": None,
            "name_absence": None,
            "mwi": None,
            "checksum_ok": False,
            "error": "bad checksum",
            "start_ms": messages[0]["start_ms"],
        }
    ]


def test_errors_are_one_line_and_status_2(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    for argv in (
        ["dsp", "callerid", "decode", str(bad)],
        ["dsp", "callerid", "decode", str(tmp_path / "missing.wav")],
        [
            "dsp",
            "callerid",
            "encode",
            "--standard",
            "bell202",
            "--format",
            "sdmf",
            "--number",
            "1",
            "-o",
            str(tmp_path / "o.wav"),
        ],
        ["dsp", "callerid", "encode", "--standard", "dtmf", "--name", "X", "-o", str(tmp_path / "o.wav")],
        ["dsp", "callerid", "encode", "--standard", "bell202", "-o", str(tmp_path / "o.wav")],
        [
            "dsp",
            "callerid",
            "encode",
            "--standard",
            "bell202",
            "--mwi",
            "on",
            "--number",
            "1",
            "-o",
            str(tmp_path / "o.wav"),
        ],
        [
            "dsp",
            "callerid",
            "encode",
            "--standard",
            "v23",
            "--number",
            "1",
            "--variant",
            "type2",
            "-o",
            str(tmp_path / "o.wav"),
        ],
        [
            "dsp",
            "callerid",
            "encode",
            "--standard",
            "bell202",
            "--number",
            "12a",
            "-o",
            str(tmp_path / "o.wav"),
        ],
    ):
        status, out, err = run(argv, capsys)
        assert status == 2 and out == []
        assert len(err.strip().splitlines()) == 1 and err.startswith("linebox: ")
    assert not (tmp_path / "o.wav").exists()  # nothing written on a refused request


def test_nothing_found_is_status_1(tmp_path, capsys):
    path = tmp_path / "quiet.wav"
    write_wav(path, np.zeros(8000))
    status, messages, err = run(["dsp", "callerid", "decode", str(path)], capsys)
    assert status == 1 and messages == [] and "no caller ID" in err


def test_auto_tells_the_standards_apart():
    """One recording with Bell 202, V.23 and DTMF messages: each found once, as what it is."""
    gap = np.zeros(4000)
    parts = [
        fsk_burst(encode_sdmf(CallerId(number="1111", datetime="01010101")), "bell202", level_dbm0=-20.0),
        gap,
        fsk_burst(encode_mdmf(CallerId(number="2222")), "v23", level_dbm0=-25.0),
        gap,
        dtmf_callerid_audio(CallerId(number="3333")),
        gap,
        fsk_burst(encode_mwi(True), "v23", "off_hook", level_dbm0=-8.0),
        gap,
        fsk_burst(encode_mwi(False, "sdmf"), "bell202", "off_hook", level_dbm0=-30.0),
    ]
    x = on_line(np.concatenate(parts), seed=7, snr_db=None, lead=2000)
    x = x + np.random.default_rng(7).normal(0.0, 20.0, len(x))  # -60 dBm0 of line noise
    reports = decode_recording(x, "auto")
    assert [(r.standard, r.format, r.caller.number if r.caller else r.mwi) for r in reports] == [
        ("bell202", "sdmf", "1111"),
        ("v23", "mdmf", "2222"),
        ("dtmf", "dtmf_ac", "3333"),
        ("v23", "mdmf_mwi", True),
        ("bell202", "sdmf_mwi", False),
    ]
    assert all(r.checksum_ok for r in reports)
    assert [r.start_sample for r in reports] == sorted(r.start_sample for r in reports)


def test_decode_recording_rejects_bad_input():
    with pytest.raises(DspError):
        decode_recording(np.zeros((2, 10)))
    with pytest.raises(DspError):
        decode_recording(np.zeros(10), "bell103")
