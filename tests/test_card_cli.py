"""``linebox linecard decode`` and ``linebox linecard probe``."""

from drivers.protocol import frame_bytes
from linebox.cli import main


def test_decode_finds_frames_in_a_noisy_capture(capsys):
    good = frame_bytes(9, "fxs_ring", port=2, cadence_ms=[400, 200, 400, 2000]).hex(" ")
    bad = frame_bytes(10, "fxo_seize", port=0)[:-1].hex(" ") + " 00"
    assert main(["linecard", "decode", "rx fxs_ring seq=9", good, "ff 13", bad]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "seq=9 fxs_ring port=2 cadence_ms=400,200,400,2000"
    assert any(line.startswith("error: CRC mismatch") for line in out)
    assert any("noise" in line for line in out)


def test_decode_reads_a_wire_log_from_stdin(capsys, monkeypatch):
    import io

    log = "wire rx fxs_off_hook seq=1 " + frame_bytes(1, "fxs_off_hook", port=3, t_ms=77).hex(" ") + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(log))
    assert main(["linecard", "decode"]) == 0
    assert capsys.readouterr().out == "seq=1 fxs_off_hook port=3 t_ms=77\n"


def test_probe_an_emulated_card(capsys):
    assert main(["linecard", "probe", "--virtual", "--ports", "fxo,fxs,fxs", "--seconds", "0.3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "card LB-VIRT firmware 1.0.0 protocol 1.1 ports fxo,fxs,fxs reset_cause power_on"
    assert out[1:4] == ["PortInService(port=0)", "PortInService(port=1)", "PortInService(port=2)"]


def test_probe_errors_are_one_line_and_status_2(capsys, tmp_path):
    assert main(["linecard", "probe", "--ports", "fxo,fxq", "--virtual"]) == 2
    assert capsys.readouterr().err == "linebox: --ports must list fxs/fxo port types, got 'fxo,fxq'\n"
    assert main(["linecard", "probe", "--ports", "fxo"]) == 2
    assert capsys.readouterr().err == "linebox: give either a serial URL or --virtual\n"
    missing = str(tmp_path / "ttyUSB9")
    assert main(["linecard", "probe", missing, "--ports", "fxo", "--seconds", "0.2", "--log-level", "ERROR"]) == 2
    assert capsys.readouterr().err.endswith(f"linebox: line card at {missing} did not answer (link connecting)\n")
