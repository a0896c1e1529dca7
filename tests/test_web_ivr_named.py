"""Named prompts on the IVR page (Flask's test client): listed with a player, a text typed or a
recording uploaded for a language (the upload checks of every other audio upload), stored through
the configuration's checks; refused input is one line and changes nothing."""

from __future__ import annotations

import html
import io
from dataclasses import replace

import numpy as np

from drivers import DriverError
from drivers.audiofile import encode_wav, read_audio
from firmware.config.ivrmodel import NamedPrompt
from firmware.config.promptcodec import MAX_NAMED_PROMPTS
from firmware.ivr.uploads import store_prompt
from firmware.speech.prompt import active_level_dbm0
from tests.test_web_ivr import _speechlike, _wav, admin  # noqa: F401 (fixture)
from tests.web_helpers import signed_in, token_of


def _text(client, name, language, text):
    page = client.get("/ivr")
    return client.post("/ivr/named", data={"csrf_token": token_of(page), "name": name, "language": language,
                                           "text": text})


def _upload(client, name, language, data, filename="w.wav"):
    page = client.get("/ivr")
    return client.post("/ivr/named/upload", data={"csrf_token": token_of(page), "name": name, "language": language,
                                                  "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def test_a_text_then_a_recording_make_one_named_prompt_listed_with_players(admin):  # noqa: F811
    client, services = admin
    assert _text(client, "welcome", "en", "Welcome to Acme.").status_code == 302
    wav = _wav(_speechlike(16000, 1.5, 3000.0), 16000)
    assert _upload(client, "welcome", "es", wav).status_code == 302
    assert services.store.load().ivr_prompts == (
        NamedPrompt("welcome", text=(("en", "Welcome to Acme."),), recording=(("es", "welcome"),)),)
    stored = read_audio(services.data_dir / "sounds" / "es" / "welcome.wav")  # 8 kHz, -18 dBm0
    assert abs(active_level_dbm0(stored) + 18.0) < 0.5
    page = html.unescape(client.get("/ivr").get_data(as_text=True))
    assert "“Welcome to Acme.”" in page and 'src="/ivr/named/welcome/es.wav"' in page
    assert [e.action for e in services.audit.recent(2)] == ["ivr named prompt", "ivr named prompt"]
    # a recording for English replaces its text: one or the other per language
    assert _upload(client, "welcome", "en", wav).status_code == 302
    assert services.store.load().named_prompt("welcome") == NamedPrompt(
        "welcome", recording=(("es", "welcome"), ("en", "welcome")))


def test_the_player_serves_what_a_flow_says(admin):  # noqa: F811
    client, services = admin
    _upload(client, "menu", "es", encode_wav(_speechlike(8000, 1.0, 3000.0)))
    answer = client.get("/ivr/named/menu/es.wav")
    assert answer.status_code == 200 and answer.mimetype == "audio/wav"
    assert np.array_equal(read_audio_bytes(answer.data), read_audio(services.data_dir / "sounds" / "es" / "menu.wav"))
    _text(client, "adieu", "fr", "Au revoir")  # espeak-ng, offline
    spoken = client.get("/ivr/named/adieu/fr.wav")
    assert spoken.status_code == 200 and abs(active_level_dbm0(read_audio_bytes(spoken.data)) + 18.0) < 0.5
    assert client.get("/ivr/named/adieu/en.wav").status_code == 404
    assert client.get("/ivr/named/nobody/en.wav").status_code == 404


def read_audio_bytes(data: bytes) -> np.ndarray:
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.wav"
        path.write_bytes(data)
        return read_audio(path)


def test_refused_input_is_one_line_and_changes_nothing(admin):  # noqa: F811
    client, services = admin
    before, revision = services.store.load(), services.store.config_version()
    for answer, error in [
        (_text(client, "welcome", "en", "bell\x07"), "text.en: expected 1-1000 printable characters"),
        (_text(client, "welcome", "en", ""), "text.en: expected 1-1000"),
        (_text(client, "../x", "en", "Hello"), "is not a prompt name"),
        (_text(client, "welcome", "EN!", "Hello"), "language code"),
        (_upload(client, "welcome", "en", b"ID3\x03\x00junk", "song.mp3"), "song.mp3 is MP3"),
        (_upload(client, "welcome", "en", b"RIFFnotawav", "bad.wav"), "bad.wav is not a WAV file the box reads"),
    ]:
        page = html.unescape(answer.get_data(as_text=True))
        assert answer.status_code == 400 and "Nothing was stored" in page and error in page, (error, page[-1500:])
    assert services.store.load() == before and services.store.config_version() == revision
    assert not (services.data_dir / "sounds").exists()


def test_an_agent_may_not_set_named_prompts(admin):  # noqa: F811
    _, services = admin
    client = signed_in(admin[0].application, "al")
    before = services.store.load().ivr_prompts  # the demo office's
    page = client.get("/login")
    answer = client.post("/ivr/named", data={"csrf_token": token_of(page), "name": "w", "language": "en",
                                             "text": "Hi"})
    assert answer.status_code == 403 and services.store.load().ivr_prompts == before


def _field_error(page: str, field_id: str) -> str | None:
    import re
    found = re.search(rf'id="{field_id}-error"[^>]*>([^<]*)<', page)
    return found.group(1) if found else None


def test_each_refused_field_has_its_error_next_to_it(admin):  # noqa: F811
    client, services = admin
    before = services.store.load()
    for answer, field_id, error in [
        (_text(client, "welcome", "EN!", "Hello"), "n-language", "language code"),
        (_text(client, "../x", "en", "Hello"), "n-name", "is not a prompt name"),
        (_text(client, "welcome", "es", "bell\x07"), "n-text", "text.es: expected 1-1000 printable"),
        (_upload(client, "welcome", "e s", encode_wav(_speechlike(8000, 1.0, 3000.0))), "nu-language",
         "is not a language code"),
        (_upload(client, "welcome", "fr", b"RIFFnotawav", "bad.wav"), "nu-file", "bad.wav is not a WAV file"),
    ]:
        page = html.unescape(answer.get_data(as_text=True))
        shown = _field_error(page, field_id)
        assert answer.status_code == 400 and shown is not None and error in shown, (field_id, page[-2500:])
        assert page.count('class="field-error"') == 1  # that field only
    assert services.store.load() == before


def test_a_refused_change_writes_no_recording_and_keeps_the_file_there_was(admin):  # noqa: F811
    """The upload is checked and converted first, the configuration change checked next, and the
    file written only once that change is accepted: a valid recording for a change the
    configuration refuses (here a 201st named prompt, over MAX_NAMED_PROMPTS) stores nothing."""
    client, services = admin
    full = tuple(NamedPrompt(f"p{n}", text=(("en", f"Prompt {n}."),)) for n in range(MAX_NAMED_PROMPTS))
    services.store.update(lambda config: replace(config, ivr_prompts=full))
    before, revision = services.store.load(), services.store.config_version()
    wav = encode_wav(_speechlike(8000, 1.0, 3000.0))
    target = services.data_dir / "sounds" / "en" / "extra.wav"
    answer = _upload(client, "extra", "en", wav)
    page = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400 and "Nothing was stored" in page and "ivr_prompts" in page, page[-1500:]
    assert not target.exists() and not (services.data_dir / "sounds").exists()
    assert services.store.load() == before and services.store.config_version() == revision
    store_prompt(services.data_dir, "en", "extra", encode_wav(_speechlike(8000, 2.0, 1000.0)))  # an earlier upload
    kept = target.read_bytes()
    assert _upload(client, "extra", "en", wav).status_code == 400
    assert target.read_bytes() == kept and [p.name for p in target.parent.iterdir()] == ["extra.wav"]  # no temp left
    # the same recording for a change that is accepted is written (replacing the earlier one)
    services.store.update(lambda config: replace(config, ivr_prompts=full[:-1]))
    assert _upload(client, "extra", "en", wav).status_code == 302
    assert target.read_bytes() != kept and services.store.load().named_prompt("extra") is not None


def test_a_recording_the_card_refuses_to_store_leaves_the_configuration_unchanged(admin, monkeypatch):  # noqa: F811
    """The file is written inside the configuration's transaction: a failed write stores nothing."""
    client, services = admin
    before, revision = services.store.load(), services.store.config_version()

    def full_card(path, data):
        raise DriverError(f"{path}: cannot write: No space left on device")

    monkeypatch.setattr("firmware.ivr.uploads.atomic_write_bytes", full_card)
    answer = _upload(client, "extra", "en", encode_wav(_speechlike(8000, 1.0, 3000.0)))
    page = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400 and "No space left on device" in page and "Nothing was stored" in page
    assert services.store.load() == before and services.store.config_version() == revision
