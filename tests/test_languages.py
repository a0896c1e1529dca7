"""The caller's language for the IVR and voicemail (docs/ivr.md, "Languages"): the order of
precedence (flow choice > contact > route > line > box), and which recordings voicemail plays
in English, Spanish and French (Debian's asterisk-core-sounds-{en,es,fr}-wav), from tables."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drivers.audiofile import read_audio
from firmware.config.demo import demo_config
from firmware.config.model import Contact, MailboxSettings, VoicemailSettings
from firmware.desk.lookup import contact_language
from firmware.engine.calls import Call, Direction
from firmware.media.words import trim_silence
from firmware.speech.say import sound_dir
from firmware.voicemail.languages import caller_language, owner_language
from firmware.voicemail.prompts import VoicemailPrompts, header_words, intro_words
from tests.test_ivr import BASE, FakeContacts, IvrNode, T, call_in, digits, events, flow, make  # noqa: F401 (fixture)

CALLER = "2125552001"


def known(language=""):
    """The contact store (a fake of firmware/contacts/store.py) with Ann, whose language is ``language``."""
    return FakeContacts((Contact("Ann", (CALLER,), language=language),))


def configured(route_language=None, line_language=None, box_language=None,
               mailbox_language=""):
    base = demo_config()
    return dataclasses.replace(
        base, language=box_language,
        lines=tuple(dataclasses.replace(line, language=line_language) for line in base.lines),
        routes=tuple(dataclasses.replace(r, language=route_language if r.name == "voice menu" else None)
                     for r in base.routes),
        voicemail=VoicemailSettings(mailboxes=(MailboxSettings("201", language=mailbox_language),)))


PRECEDENCE = [  # contact, route, line, box -> the caller's language
    ("", None, None, None, "en"),  # the zone's (US: en)
    ("", None, None, "fr", "fr"),  # the box's
    ("", None, "es", "fr", "es"),  # the line's over the box's
    ("", "fr", "es", None, "fr"),  # the route's over the line's
    ("es", "fr", "fr", "fr", "es"),  # the contact's over all of them
]


@pytest.mark.parametrize("contact,route,line,box,expected", PRECEDENCE)
def test_the_callers_language_contact_then_route_then_line_then_box(contact, route, line, box, expected):
    config = configured(route, line, box)
    assert config.caller_language("voice menu", 0, contact_language(known(contact), "us", CALLER)) == expected
    call = Call(1, 0, Direction.INBOUND, 0, caller_number=CALLER, route="voice menu")
    assert caller_language(config, call, 0, known(contact)) == expected  # voicemail's deposit: the same resolution


def test_a_contact_without_a_language_or_another_number_changes_nothing():
    assert contact_language(known(""), "us", CALLER) == ""
    assert contact_language(known("es"), "us", "2125559999") == ""
    assert contact_language(known("es"), "us", "") == ""  # no caller ID
    assert contact_language(None, "us", CALLER) == ""  # no contact store
    call = Call(1, 0, Direction.INBOUND, 0, caller_number="2125559999", route="voice menu")
    assert caller_language(configured("fr"), call, 0, known("es")) == "fr"


def test_an_unreadable_contact_store_gives_no_language():
    from firmware import FirmwareError

    class Broken:
        def by_number(self, number, zone):
            raise FirmwareError("contacts: database is locked")

    assert contact_language(Broken(), "us", CALLER) == ""


def test_the_language_a_flow_chose_goes_with_the_call_to_voicemail():
    call = Call(1, 0, Direction.INBOUND, 0, caller_number=CALLER, route="voice menu")
    call.language = "fr"
    assert caller_language(configured("es", "es"), call, 0, known("es")) == "fr"


@pytest.mark.parametrize("mailbox,caller_on_line,expected", [
    ("fr", True, "fr"),  # the mailbox's own language first
    ("", True, "es"),  # from an outside line: the caller's (here the contact's)
    ("", False, "en"),  # from its own phone: the box's
    ("fr", False, "fr"),
])
def test_the_owners_language(mailbox, caller_on_line, expected):
    config = configured(mailbox_language=mailbox)
    call = Call(1, 0, Direction.INBOUND, 0, caller_number=CALLER) if caller_on_line else None
    assert owner_language(config, "201", call, 0, known("es")) == expected


# -- the IVR -------------------------------------------------------------------------------------

def ivr_config(route_language=None):
    return dataclasses.replace(configured(route_language), ivr_flows=(flow(),))


@pytest.mark.parametrize("contact,route,expected", [
    ("es", None, "es"),  # the contact's language
    ("es", "en", "es"),  # over the route's
    ("", "es", "es"),
    ("fr", None, "en"),  # a language the flow does not offer: the flow's first
])
def test_the_ivr_speaks_the_contacts_language(contact, route, expected, events):  # noqa: F811
    service, cc, prompts = make(config=ivr_config(route), contacts=known(contact).contacts)
    call = Call(7, 0, Direction.INBOUND, 0, caller_number=CALLER, route="voice menu")
    assert service.take(call, 0, "main")
    assert events.named("ivr_start")[0]["language"] == expected
    assert prompts.played[-1][0] == expected


def test_the_flows_own_choice_wins_over_the_contact_and_goes_with_the_call(events):  # noqa: F811
    nodes = (IvrNode("english", T.SET, language="en", next="menu"), *BASE)
    service, cc, prompts = make(config=dataclasses.replace(ivr_config(), ivr_flows=(flow(*nodes, start="english"),)),
                                contacts=known("es").contacts)
    call = call_in(service)
    assert prompts.played[-1] == ("en", ("hello", "vm-press"))
    assert call.language == "en"  # voicemail after the flow speaks it (caller_language above)
    digits(service, cc, "2")  # the demo menu's "2": set language es
    assert prompts.played[-1][0] == "es" and call.language == "es"


# -- voicemail's recordings per language ---------------------------------------------------------

@pytest.fixture(scope="module")
def prompts():
    return VoicemailPrompts.load(read_audio, languages={"es": sound_dir("es"), "fr": sound_dir("fr")})


@pytest.mark.parametrize("new,old,language,words", [
    (2, 1, "en", ["vm-youhave", "digits/2", "vm-INBOX", "vm-messages", "vm-and", "digits/1", "vm-Old",
                  "vm-message"]),
    (2, 1, "es", ["vm-youhave", "digits/2", "vm-messages", "vm-INBOXs", "vm-and", "digits/1M", "vm-message",
                  "vm-Old"]),  # "tiene dos mensajes nuevos y un mensaje viejo"
    (1, 0, "es", ["vm-youhave", "digits/1M", "vm-message", "vm-INBOX"]),
    (0, 0, "es", ["vm-youhaveno", "vm-messages"]),  # "no tiene mensajes"
    (21, 0, "es", ["vm-youhave", "digits/20-and", "digits/1M", "vm-messages", "vm-INBOXs"]),  # veintiún
    (2, 0, "fr", ["vm-youhave", "digits/2", "vm-INBOX", "vm-messages"]),  # "deux nouveaux messages"
    (0, 3, "fr", ["vm-youhave", "digits/3", "vm-Old", "vm-messages"]),
    (0, 0, "fr", ["vm-youhave", "vm-no", "vm-messages"]),
    (80, 0, "fr", ["vm-youhave", "digits/80", "vm-INBOX", "vm-messages"]),  # quatre-vingts
])
def test_the_summary_in_each_languages_order(new, old, language, words, prompts):
    assert intro_words(new, old, language) == words
    assert all(f.startswith(f"{language}/") for f in prompts.file_words(words, language))  # all recorded


@pytest.mark.parametrize("position,language,words", [
    (0, "es", ["vm-first", "vm-message"]),
    (1, "es", ["vm-message", "digits/2"]),
    (20, "es", ["vm-message", "digits/21"]),  # "mensaje veintiuno": counted alone
    (70, "fr", ["vm-message", "digits/60", "digits/et", "digits/11"]),  # soixante et onze
    (11, "en", ["vm-message", "digits/12"]),
])
def test_message_headers(position, language, words, prompts):
    assert header_words(position, language) == words
    assert all(f.startswith(f"{language}/") for f in prompts.file_words(words, language))


FILES = [  # the sentence, the language asked -> the files played
    (["vm-theperson", "digits/2", "vm-isunavail", "vm-intro"], "es",
     ["es/vm-theperson", "es/digits/2", "es/vm-isunavail", "es/vm-intro"]),
    (["vm-msgsaved", "vm-goodbye"], "fr", ["fr/vm-msgsaved", "fr/vm-goodbye"]),
    (["vm-password"], "es", ["es/vm-password"]),
    (["one-moment-please"], "es", ["en/one-moment-please"]),  # not in Debian's Spanish set: English
    (["vm-msgsaved"], "de", ["en/vm-msgsaved"]),  # no German recordings: English
    (["vm-msgsaved"], None, ["en/vm-msgsaved"]),
]


@pytest.mark.parametrize("names,language,files", FILES)
def test_which_files_are_played_per_language(names, language, files, prompts):
    assert prompts.file_words(names, language) == files
    folders = {"en": sound_dir("en"), "es": sound_dir("es"), "fr": sound_dir("fr")}
    played = prompts.sentence(names, language)
    first_language, first_name = files[0].split("/", 1)
    first = read_audio(folders[first_language] / f"{first_name}.wav")
    head = trim_silence(first)
    assert np.array_equal(played[: head.size], head)  # the sentence starts with that very recording


def test_a_spanish_sentence_is_not_the_english_one(prompts):
    assert prompts.speaks("es") == "es" and prompts.speaks("de") == "en"
    english, spanish = prompts.greeting("201"), prompts.greeting("201", "es")
    assert english.size != spanish.size or not np.array_equal(english, spanish)


def test_every_word_voicemail_can_say_in_spanish_and_french_is_recorded(prompts):
    for language in ("es", "fr"):
        words = [*intro_words(3, 2, language), *intro_words(0, 0, language), *intro_words(1, 1, language)]
        for position in range(0, 120, 7):
            words += header_words(position, language)
        assert [f for f in prompts.file_words(words, language) if not f.startswith(language)] == []
        prompts.sentence(words, language)  # nothing unknown


def test_a_mailbox_language_is_read_checked_and_written_back():
    from firmware import FirmwareError
    from firmware.config.vmcodec import mailbox_dict, voicemail_from_dict
    settings = voicemail_from_dict({"timezone": "UTC", "mailboxes": [{"number": "201", "language": "es"}]},
                                   "voicemail")
    assert settings.mailbox("201").language == "es" and mailbox_dict(settings.mailbox("201"))["language"] == "es"
    assert voicemail_from_dict({"mailboxes": [{"number": "201"}]}, "voicemail").mailbox("201").language == ""
    with pytest.raises(FirmwareError, match=r"voicemail.mailboxes\[0\].language: .*language code"):
        voicemail_from_dict({"mailboxes": [{"number": "201", "language": "../x"}]}, "voicemail")
