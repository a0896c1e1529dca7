"""The media page with Flask's test client: music-on-hold classes and queue greetings uploaded
(converted to 8 kHz mono, written atomically), refused in one line with nothing stored, listed,
played back as WAV, deleted; a queue's greeting picked with the revision check."""

from __future__ import annotations

import html
import io
import re
import wave
from dataclasses import replace

import numpy as np
import pytest

from drivers.audiofile import encode_wav, read_audio
from firmware.media.music import MAX_CLASS_SECONDS
from firmware.media.uploads import MAX_MUSIC_BYTES
from firmware.speech.prompt import active_level_dbm0
from tests.web_helpers import admin_client, token_of


@pytest.fixture
def admin(tmp_path):
    with admin_client(tmp_path) as signed_in:
        yield signed_in


def _wav(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    """16-bit PCM WAV at ``rate`` (the standard library's writer: a file as an installer's tool makes it)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = np.repeat(samples, channels) if channels > 1 else samples
        out.writeframes(np.clip(np.round(frames), -32768, 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def _tone(rate: int, seconds: float, amplitude: float = 6000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * 440.0 * t)


def _post(client, path: str, data: bytes | None, filename: str = "song.wav", **fields):
    token = token_of(client.get("/media"))
    form = {"csrf_token": token, **fields}
    if data is not None:
        form["file"] = (io.BytesIO(data), filename)
    return client.post(path, data=form, content_type="multipart/form-data")


def _problems(answer) -> list[str]:
    page = html.unescape(answer.get_data(as_text=True))
    found = re.search(r'<ul class="error" id="media-problems">(.*?)</ul>', page, re.S)
    assert found, page[-1500:]
    return re.findall(r"<li>(.*?)</li>", found.group(1), re.S)


def _stored(folder) -> list:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_music_uploaded_at_44k1_stereo_is_stored_8khz_mono_listed_played_and_deleted(admin):
    client, services = admin
    answer = _post(client, "/media/music", _wav(_tone(44100, 2.0), 44100, channels=2), "Jazz One.wav",
                   **{"class": "jazz", "name": "track1"})
    assert answer.status_code == 302
    stored = services.data_dir / "moh" / "jazz" / "track1.wav"
    with wave.open(str(stored), "rb") as header:
        assert (header.getframerate(), header.getnchannels(), header.getsampwidth()) == (8000, 1, 2)
        assert abs(header.getnframes() - 16000) <= 8  # 2 s at 8 kHz
    assert not [p for p in stored.parent.iterdir() if p.name.startswith(".")]  # no temp file left
    assert services.audit.recent(1)[0].action == "music upload"
    page = client.get("/media").get_data(as_text=True)
    assert "jazz" in page and 'src="/media/music/jazz/track1.wav"' in page
    played = client.get("/media/music/jazz/track1.wav")
    assert played.status_code == 200 and played.mimetype == "audio/wav"
    assert played.data == stored.read_bytes()
    played.close()
    assert client.get("/media/music/jazz/nothere.wav").status_code == 404
    assert client.get("/media/music/default/track1.wav").status_code == 404  # the built-in library is not served
    token = token_of(client.get("/media"))
    assert client.post("/media/music/jazz/track1/delete", data={"csrf_token": token}).status_code == 302
    assert not stored.exists() and not stored.parent.exists()  # the empty class's folder goes too
    assert client.post("/media/music/jazz/track1/delete", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("data,music_class,filename,error", [
    (b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "jazz", "bad.wav", "is not a WAV file the box reads"),
    ("cut", "jazz", "cut.wav", "data chunk truncated"),  # a file cut short in transfer
    (b"ID3\x03\x00" + bytes(100), "jazz", "song.mp3", "is MP3"),
    (b"not audio at all, a text file", "jazz", "notes.txt", "is not a WAV file the box reads"),
    (bytes(MAX_MUSIC_BYTES + 1), "jazz", "huge.wav", "is larger than 32 MB"),
    ("long", "jazz", "long.wav", f"a class plays at most {MAX_CLASS_SECONDS} s"),
    (None, "../etc", "a.wav", "is not a name"),
    (None, "default", "a.wav", "default is built in"),
    (None, "ringback", "a.wav", "ringback is built in"),
])
def test_a_refused_music_upload_is_one_line_and_stores_nothing(admin, data, music_class, filename, error):
    client, services = admin
    if data is None:
        data = _wav(_tone(8000, 1.0), 8000)
    elif data == "cut":
        data = _wav(_tone(8000, 1.0), 8000)[:4000]
    elif data == "long":
        data = _wav(_tone(8000, MAX_CLASS_SECONDS + 1.0), 8000)
    answer = _post(client, "/media/music", data, filename, **{"class": music_class, "name": "x"})
    assert answer.status_code == 400
    problems = _problems(answer)
    assert len(problems) == 1 and error in problems[0] and "\n" not in problems[0].strip(), problems
    assert _stored(services.data_dir / "moh") == []
    assert not [p for p in services.data_dir.iterdir() if p.name.startswith(".upload-")]
    assert "media reload" not in services.engine.commands  # nothing stored: nothing to tell the engine


def test_an_upload_without_a_file_is_refused(admin):
    client, _ = admin
    answer = _post(client, "/media/music", None, **{"class": "jazz"})
    assert answer.status_code == 400 and "choose the music file" in _problems(answer)[0]
    answer = _post(client, "/media/greetings", None, name="welcome")
    assert answer.status_code == 400 and "choose the greeting" in _problems(answer)[0]


def test_a_queue_naming_a_class_without_files_is_warned_about(admin):
    client, services = admin
    services.store.update(lambda c: replace(c, queues=tuple(replace(q, music="jazz") for q in c.queues)))
    page = html.unescape(client.get("/media").get_data(as_text=True))
    assert "queue support names music class jazz, which has no files" in page
    _post(client, "/media/music", _wav(_tone(8000, 1.0), 8000), **{"class": "jazz", "name": "a"})
    assert "which has no files" not in client.get("/media").get_data(as_text=True)


def test_a_queue_greeting_is_uploaded_picked_played_and_deleted_only_when_unused(admin):
    client, services = admin
    voice = np.concatenate([np.zeros(8000), _tone(16000, 1.5, 3000.0) * np.sign(np.sin(np.arange(24000) / 300)),
                            np.zeros(8000)])
    answer = _post(client, "/media/greetings", _wav(voice, 16000), "hello.wav", name="support-hello")
    assert answer.status_code == 302
    stored = services.data_dir / "sounds" / "support-hello.wav"  # where the ACD reads queue greetings
    samples = read_audio(stored)
    assert abs(active_level_dbm0(samples) - (-18.0)) < 0.5  # levelled like a prompt (ITU-T P.56)
    assert samples.size < 1.5 * 8000 + 0.4 * 8000  # the silences around it trimmed
    played = client.get("/media/greetings/support-hello.wav")
    assert played.status_code == 200 and played.mimetype == "audio/wav" and played.data == stored.read_bytes()
    played.close()

    page = client.get("/media")
    revision = re.search(r'name="revision" value="(\d+)"', page.get_data(as_text=True)).group(1)
    token = token_of(page)
    answer = client.post("/media/queues/support/greeting",
                         data={"csrf_token": token, "revision": revision, "greeting": "support-hello"})
    assert answer.status_code == 302
    assert services.store.load().queue("support").greeting == "support-hello"
    assert services.audit.recent(1)[0].action == "queue greeting"

    answer = client.post("/media/greetings/support-hello/delete", data={"csrf_token": token})
    assert answer.status_code == 400 and "is the greeting of queue support" in _problems(answer)[0]
    assert stored.exists()

    stale = client.post("/media/queues/support/greeting",  # the page's revision is now old
                        data={"csrf_token": token, "revision": revision, "greeting": ""})
    assert stale.status_code == 400 and "changed by someone else" in _problems(stale)[0]
    assert services.store.load().queue("support").greeting == "support-hello"

    revision = str(services.store.config_version())
    assert client.post("/media/queues/support/greeting",
                       data={"csrf_token": token, "revision": revision, "greeting": ""}).status_code == 302
    assert services.store.load().queue("support").greeting == ""
    assert client.post("/media/greetings/support-hello/delete", data={"csrf_token": token}).status_code == 302
    assert not stored.exists()


def test_a_greeting_not_uploaded_cannot_be_picked(admin):
    client, services = admin
    page = client.get("/media")
    revision = re.search(r'name="revision" value="(\d+)"', page.get_data(as_text=True)).group(1)
    before = services.store.config_version()
    answer = client.post("/media/queues/support/greeting",
                         data={"csrf_token": token_of(page), "revision": revision, "greeting": "nothere"})
    assert answer.status_code == 400 and "is not an uploaded greeting" in _problems(answer)[0]
    assert services.store.config_version() == before
    assert client.post("/media/queues/nosuch/greeting",
                       data={"csrf_token": token_of(page), "revision": revision, "greeting": ""}).status_code == 404


@pytest.mark.parametrize("name,data,error", [
    ("../x", None, "is not a recording name"),
    (".hidden", None, "is not a recording name"),
    ("x" * 33, None, "is not a recording name"),
    ("hello", b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "is not a WAV file the box reads"),
    ("hello", "silent", "the audio is silent"),
])
def test_a_refused_greeting_is_one_line_and_stores_nothing(admin, name, data, error):
    client, services = admin
    if data is None:
        data = _wav(_tone(8000, 1.0), 8000)
    elif data == "silent":
        data = _wav(np.zeros(8000), 8000)
    answer = _post(client, "/media/greetings", data, "g.wav", name=name)
    assert answer.status_code == 400
    problems = _problems(answer)
    assert len(problems) == 1 and error in problems[0], problems
    assert _stored(services.data_dir / "sounds") == []


def test_the_stored_file_is_the_encoded_conversion(admin):
    """What is stored is exactly drivers.audiofile's 8 kHz encoding of the converted upload."""
    client, services = admin
    source = _wav(_tone(8000, 0.5), 8000)
    _post(client, "/media/music", source, **{"class": "c1", "name": "n"})
    stored = (services.data_dir / "moh" / "c1" / "n.wav").read_bytes()
    assert stored == encode_wav(read_audio(services.data_dir / "moh" / "c1" / "n.wav"))
    assert np.array_equal(read_audio(services.data_dir / "moh" / "c1" / "n.wav"),
                          np.round(_tone(8000, 0.5)).astype(np.int16))


def test_the_queue_page_leads_to_the_media_page(admin):
    client, _ = admin
    page = client.get("/config/queues/item/support").get_data(as_text=True)
    assert 'id="media-link"><a href="/media">' in page and "pick on the Media page" in page
    assert 'id="media-link"' not in client.get("/config/extensions/item/201").get_data(as_text=True)


def test_music_left_unnamed_takes_its_files_name(admin):
    client, services = admin
    answer = _post(client, "/media/music", _wav(_tone(8000, 0.5), 8000), "My Song (live).wav", **{"class": "pop"})
    assert answer.status_code == 302
    assert (services.data_dir / "moh" / "pop" / "My_Song__live_.wav").is_file()


def test_every_stored_or_deleted_file_is_sent_to_the_running_engine(admin):
    """Music and greetings are live: after each change the engine is told (``media reload``)."""
    client, services = admin
    wav = _wav(_tone(8000, 1.0), 8000)
    steps = [("/media/music", wav, {"class": "jazz", "name": "a"}), ("/media/music/jazz/a/delete", None, {}),
             ("/media/greetings", wav, {"name": "welcome"}), ("/media/greetings/welcome/delete", None, {})]
    for path, data, fields in steps:
        before = len(services.engine.commands)
        answer = _post(client, path, data, **fields)
        assert answer.status_code == 302, path
        assert services.engine.commands[before:] == ["media reload"], path
        page = html.unescape(client.get("/media").get_data(as_text=True))
        assert "new callers hear the change now" in page, path


def test_an_engine_that_cannot_be_reached_is_said_and_the_file_is_kept(admin):
    client, services = admin
    services.engine.down = True
    assert _post(client, "/media/music", _wav(_tone(8000, 1.0), 8000), **{"class": "jazz", "name": "a"}
                 ).status_code == 302
    assert (services.data_dir / "moh" / "jazz" / "a.wav").is_file()
    page = html.unescape(client.get("/media").get_data(as_text=True))
    assert "the engine was not told (no engine at var/linebox.sock: is linebox running?): it reads the files " \
           "when it starts" in page


def test_the_web_server_takes_the_largest_upload_of_any_page(admin):
    """waitress refuses a body over its limit before a page sees it: the limit is the largest page's
    (music: 32 MB; a full backup's restore comes in 4 MB chunks, tests/test_web_restore_upload.py),
    not the configuration document's 1 MB (found by the Media browser test)."""
    from webadmin.app import largest_upload
    from webadmin.media import UPLOAD_SLACK

    client, _ = admin
    limits = {rule.endpoint: getattr(client.application.view_functions[rule.endpoint], "upload_limit", 0)
              for rule in client.application.url_map.iter_rules()}
    assert largest_upload(client.application) == MAX_MUSIC_BYTES + UPLOAD_SLACK == max(limits.values())
