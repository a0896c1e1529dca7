"""The web admin's voicemail pages (webadmin/voicemail.py) with Flask's test client, against the
console's real ``mailbox`` commands (firmware/console/mailboxes.py) over real voicemail stores:
list, show, play (WAV), delete, PIN, greeting upload (converted; corrupt refused), roles."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import numpy as np
import pytest

from drivers.audiofile import encode_wav
from firmware.console.mailboxes import MAILBOX_COMMANDS, MailboxCommands
from firmware.voicemail.greetings import GreetingKind, Greetings
from firmware.voicemail.languages import recorded_languages
from firmware.voicemail.pins import PinBook, PinCheck
from firmware.voicemail.store import VoicemailStore
from tests.web_helpers import CHEAP, PASSWORD, Clock, FakeEngine, make_accounts, make_app, make_services

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class MailboxEngine(FakeEngine):
    """The fake engine, with the console's real ``mailbox`` commands over real stores."""

    def __init__(self, commands: MailboxCommands) -> None:
        super().__init__()
        self.mailboxes = commands

    def run(self, command: str) -> list[str]:
        words = command.split()
        for spec in MAILBOX_COMMANDS:
            if tuple(words[:2]) == spec.words:
                self.commands.append(" ".join(words[:3]))  # what the test may see: never the PIN
                return self.mailboxes.run(spec.method, words[2:], spec.usage)
        return super().run(command)


@pytest.fixture
def web(tmp_path):
    accounts = make_accounts(tmp_path)
    accounts.add("ada", "admin", PASSWORD, 0.0)
    accounts.add("al", "agent", PASSWORD, 0.0)
    store = VoicemailStore(tmp_path / "linebox.db", tmp_path / "voicemail")
    pins = PinBook(tmp_path / "linebox.db", cost=CHEAP)
    voicemail = SimpleNamespace(store=store, pins=pins, greetings=Greetings(tmp_path / "voicemail"))
    clock = Clock()
    services = make_services(tmp_path, accounts=accounts, clock=clock)
    services.engine = MailboxEngine(MailboxCommands(voicemail, services.store.load, clock))
    app = make_app(services)
    yield app, voicemail, services
    pins.close()
    store.close()
    services.store.close()


def login(client, name="ada"):
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})


def token(client, path="/voicemail/201") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def test_list_show_play_delete(web):
    app, vm, services = web
    voice = np.sin(np.arange(12000) / 3) * 4000
    message = vm.store.save("201", "2125557788", "ACME", 1_800_000_000.0, voice)
    client = app.test_client()
    login(client)
    page = client.get("/voicemail").get_data(as_text=True)
    assert 'href="/voicemail/201"' in page and "Reception" in page
    page = client.get("/voicemail/201").get_data(as_text=True)
    assert "2125557788" in page and f'src="/voicemail/201/{message.id}.wav"' in page
    audio = client.get(f"/voicemail/201/{message.id}.wav")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.data == message.path.read_bytes()
    assert client.get("/voicemail/201/99.wav").status_code == 404
    assert client.get("/voicemail/202").status_code == 404  # no mailbox
    response = client.post(f"/voicemail/201/{message.id}/delete", data={"csrf_token": token(client)},
                           follow_redirects=True)
    assert f"message {message.id} of mailbox 201 deleted" in response.get_data(as_text=True)
    assert vm.store.count("201") == 0 and not message.path.exists()
    assert services.audit.recent(5)[0].action == "voicemail delete"


def test_set_pin_checked_at_the_edge_and_not_audited_in_clear(web):
    app, vm, services = web
    client = app.test_client()
    login(client)
    page = client.post("/voicemail/201/pin", data={"csrf_token": token(client), "pin": "12", "pin2": "12"},
                       follow_redirects=True).get_data(as_text=True)
    assert "a PIN is 4-10 digits" in page and not vm.pins.status("201").has_pin
    page = client.post("/voicemail/201/pin", data={"csrf_token": token(client), "pin": "4826", "pin2": "4827"},
                       follow_redirects=True).get_data(as_text=True)
    assert "the two PINs differ" in page and not vm.pins.status("201").has_pin
    page = client.post("/voicemail/201/pin", data={"csrf_token": token(client), "pin": "4826", "pin2": "4826"},
                       follow_redirects=True).get_data(as_text=True)
    assert "PIN of mailbox 201 set" in page
    assert vm.pins.check("201", "4826", 0.0) is PinCheck.OK
    assert all("4826" not in entry.detail for entry in services.audit.recent(20))


def wav_upload(data: bytes, kind: str, tok: str) -> dict:
    return {"csrf_token": tok, "kind": kind, "action": "upload", "file": (io.BytesIO(data), "hello.wav")}


def test_greeting_upload_converted_and_corrupt_refused(web, tmp_path):
    app, vm, _services = web
    client = app.test_client()
    login(client)
    # 16 kHz upload: stored at 8 kHz
    at16k = encode_wav(np.sin(np.arange(32000) / 6) * 5000)
    at16k = at16k[:24] + (16000).to_bytes(4, "little") + (32000).to_bytes(4, "little") + at16k[32:]
    page = client.post("/voicemail/201/greeting", data=wav_upload(at16k, "unavailable", token(client)),
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "unavailable greeting of mailbox 201 set (2.0 s)" in page
    greeting = vm.greetings.get("201", GreetingKind.UNAVAILABLE)
    assert greeting is not None and abs(greeting.size - 16000) <= 2
    # corrupt: one line, nothing stored, no temporary file left
    page = client.post("/voicemail/201/greeting", data=wav_upload(b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "busy",
                                                                     token(client)),
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "is not a WAV file the box reads" in page and vm.greetings.get("201", GreetingKind.BUSY) is None
    assert not any((tmp_path / "voicemail" / ".uploads").iterdir())
    page = client.post("/voicemail/201/greeting", data={"csrf_token": token(client), "kind": "unavailable",
                                                         "action": "delete"},
                       follow_redirects=True).get_data(as_text=True)
    assert "unavailable greeting of mailbox 201 deleted" in page
    assert vm.greetings.kinds("201") == []


def test_an_agent_may_not_open_the_voicemail_pages(web):
    app, _vm, _services = web
    client = app.test_client()
    login(client, "al")
    assert client.get("/voicemail").status_code == 403
    assert client.get("/voicemail/201").status_code == 403


def test_mailbox_language_chosen_among_recorded_languages_and_checked(web):
    """The language field offers the site default and each language with recordings; a choice is
    stored through the configuration's checks; one the box has no recordings for is refused
    next to the field and nothing changes."""
    app, _vm, services = web
    client = app.test_client()
    login(client)
    recorded = list(recorded_languages())
    assert "en" in recorded  # Debian's English set is required by voicemail
    page = client.get("/voicemail/201").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]*)"', page.split('id="f-language"')[1].split("</select>")[0])
    assert options == ["", *recorded]
    assert "site default (en)" in page
    other = recorded[-1]
    answer = client.post("/voicemail/201/language", data={"csrf_token": token(client), "language": other})
    assert answer.status_code == 302
    assert services.store.load().voicemail.mailbox("201").language == other
    assert services.audit.recent(1)[0].action == "voicemail language"
    page = client.get("/voicemail/201").get_data(as_text=True)
    assert f'<option value="{other}" selected>' in page
    before, revision = services.store.load(), services.store.config_version()
    for wrong in ("de", "EN!", "x" * 30):
        answer = client.post("/voicemail/201/language", data={"csrf_token": token(client), "language": wrong})
        page = answer.get_data(as_text=True)
        error = re.search(r'id="f-language-error"[^>]*>([^<]*)<', page)
        assert answer.status_code == 400 and error is not None, page[-2000:]
        assert "is not one the box has recordings for" in error.group(1)
        assert 'class="field invalid"' in page
    assert services.store.load() == before and services.store.config_version() == revision
    # back to the site default: '' stored, the entry's other settings untouched
    answer = client.post("/voicemail/201/language", data={"csrf_token": token(client), "language": ""})
    assert answer.status_code == 302
    entry = services.store.load().voicemail.mailbox("201")
    assert entry.language == "" and entry.max_messages == before.voicemail.mailbox("201").max_messages


def test_mailbox_language_goes_through_the_configuration_checks(web, monkeypatch):
    """A language the recordings offer but the configuration refuses (its code rule) is the
    configuration's own error, next to the field: the web adds no second rule."""
    app, _vm, services = web
    monkeypatch.setattr("webadmin.voicemail.recorded_languages", lambda: {"en": None, "e n": None})
    client = app.test_client()
    login(client)
    before = services.store.load()
    answer = client.post("/voicemail/201/language", data={"csrf_token": token(client), "language": "e n"})
    error = re.search(r'id="f-language-error"[^>]*>([^<]*)<', answer.get_data(as_text=True))
    assert answer.status_code == 400 and error is not None
    assert error.group(1).startswith("language: ") and "language code" in error.group(1)
    assert services.store.load() == before
