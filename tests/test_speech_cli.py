"""``linebox speech recognize|install|models`` end to end (real PocketSphinx; model installs
refused for structural and corrupt models, zips checked for unsafe paths)."""

import json
import zipfile

import pytest

from firmware.speech.say import sound_dir
from linebox.cli import main

pytest.importorskip("pocketsphinx")


def fake_model(folder, mdl=b"\0garbage" * 64):
    for name in ("am", "conf", "graph"):
        (folder / name).mkdir(parents=True)
    (folder / "am" / "final.mdl").write_bytes(mdl)
    (folder / "conf" / "mfcc.conf").write_text("--use-energy=false\n")
    (folder / "graph" / "HCLG.fst").write_bytes(b"\0" * 64)
    return folder


def test_recognize_prints_json(capsys, tmp_path):
    wav = sound_dir("en") / "digits" / "3.wav"
    status = main(["speech", "recognize", "--lang", "en", "--grammar", "one, two,three", str(wav), "--json",
                   "--data", str(tmp_path)])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"] == "three" and out["words"] == ["three"] and out["engine"] == "pocketsphinx"
    assert 0 < out["confidence"] <= 1


@pytest.mark.parametrize("argv, message", [
    (["speech", "recognize", "--lang", "fr", "x.wav"], "no model for language 'fr'"),
    (["speech", "recognize", "--lang", "EN!", "x.wav"], "language must be"),
    (["speech", "install", "nowhere", "--lang", "ko"], "does not exist"),
])
def test_bad_input_is_one_line(capsys, tmp_path, argv, message):
    assert main([*argv, "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_models_lists_the_bundled_english_engine(capsys, tmp_path):
    assert main(["speech", "models", "--json", "--data", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"language": "en", "engine": "pocketsphinx", "path": "(bundled with the package)"}]


def test_install_refuses_a_folder_that_is_no_model(capsys, tmp_path):
    (tmp_path / "junk").mkdir()
    assert main(["speech", "install", str(tmp_path / "junk"), "--lang", "ko", "--data", str(tmp_path)]) == 2
    assert "not a Vosk model: no am/final.mdl" in capsys.readouterr().err


def test_a_corrupt_model_is_refused_and_the_old_one_kept(capsys, tmp_path):
    data = tmp_path / "data"
    old = fake_model(data / "speech" / "models" / "ko", mdl=b"old model")
    corrupt = fake_model(tmp_path / "new")
    assert main(["speech", "install", str(corrupt), "--lang", "ko", "--data", str(data)]) == 2
    assert "cannot load the Vosk model" in capsys.readouterr().err
    assert (old / "am" / "final.mdl").read_bytes() == b"old model"
    assert sorted(p.name for p in (data / "speech" / "models").iterdir()) == ["ko"]  # no staging left


def test_zips_are_checked(capsys, tmp_path):
    unsafe = tmp_path / "unsafe.zip"
    with zipfile.ZipFile(unsafe, "w") as z:
        z.writestr("../../evil.txt", "x")
    assert main(["speech", "install", str(unsafe), "--lang", "ko", "--data", str(tmp_path / "d")]) == 2
    assert "unsafe path" in capsys.readouterr().err
    assert not (tmp_path / "evil.txt").exists()
    model = fake_model(tmp_path / "m" / "vosk-model-small-ko")
    packed = tmp_path / "model.zip"
    with zipfile.ZipFile(packed, "w") as z:
        for path in model.rglob("*"):
            z.write(path, path.relative_to(tmp_path / "m"))
    assert main(["speech", "install", str(packed), "--lang", "ko", "--data", str(tmp_path / "d")]) == 2
    assert "cannot load the Vosk model" in capsys.readouterr().err  # found one level down, then loaded
    (tmp_path / "notzip.zip").write_bytes(b"plain")
    assert main(["speech", "install", str(tmp_path / "notzip.zip"), "--lang", "ko", "--data", str(tmp_path)]) == 2
    assert "neither a model directory nor a zip" in capsys.readouterr().err


def test_synth_writes_a_levelled_8k_prompt_and_caches_it(capsys, tmp_path):
    from drivers.audiofile import read_audio
    from firmware.speech.prompt import active_level_dbm0

    out = tmp_path / "prompt.wav"
    argv = ["speech", "synth", "para español, oprima dos", "--lang", "es", "-o", str(out), "--data", str(tmp_path)]
    assert main(argv) == 0
    assert "voice espeak-ng:es" in capsys.readouterr().out
    audio = read_audio(out)
    assert abs(active_level_dbm0(audio) - -18.0) < 0.05 and audio.size > 8000
    assert len(list((tmp_path / "speech" / "tts").glob("*.wav"))) == 1
    assert main(["speech", "synth", "", "--lang", "es", "-o", str(out), "--data", str(tmp_path)]) == 2
    assert "empty" in capsys.readouterr().err
