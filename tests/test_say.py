"""say_number/digits/date/time/money against written-out expectations in English, Spanish and
French, and every name produced checked against the recordings on disk."""

import datetime

import numpy as np
import pytest

from drivers.audiofile import read_audio
from firmware.speech.api import SpeechError
from firmware.speech.say import (
    LANGUAGES,
    MAX_NUMBER,
    SoundLibrary,
    say_date,
    say_digits,
    say_money,
    say_number,
    say_time,
    sound_dir,
)


def d(*words):
    """Written-out expectations: 'hundred' -> 'digits/hundred', '5' -> 'digits/5'."""
    return [w if "/" in w or w in ("vm-and", "hours") else f"digits/{w}" for w in words]


ENGLISH = [
    (0, d("0")), (7, d("7")), (13, d("13")), (20, d("20")), (21, d("20", "1")), (99, d("90", "9")),
    (100, d("1", "hundred")), (101, d("1", "hundred", "1")), (115, d("1", "hundred", "15")),
    (1000, d("1", "thousand")), (2026, d("2", "thousand", "20", "6")),
    (1_000_000, d("1", "million")), (-5, d("minus", "5")),
    (999_999_999, d("9", "hundred", "90", "9", "million", "9", "hundred", "90", "9", "thousand",
                    "9", "hundred", "90", "9")),
]

SPANISH = [  # (value, gender, words)
    (1, "n", d("1")), (1, "m", d("1M")), (1, "f", d("1F")),          # uno, un, una
    (21, "n", d("21")), (21, "m", d("20-and", "1M")), (21, "f", d("20-and", "1F")),  # veintiuno/ún/una
    (25, "m", d("25")), (30, "m", d("30")), (31, "m", d("30", "and", "1M")),
    (31, "f", d("30", "and", "1F")), (31, "n", d("30", "and", "1")), (47, "m", d("40", "and", "7")),
    (100, "m", d("hundred")),                                         # cien
    (101, "m", d("100-and", "1M")), (120, "f", d("100-and", "20")),  # ciento uno, ciento veinte
    (200, "m", d("200")), (555, "m", d("500", "50", "and", "5")),
    (1000, "m", d("thousand")),                                       # mil (no "un mil")
    (1001, "f", d("thousand", "1F")), (2000, "m", d("2", "thousand")),
    (21000, "n", d("20-and", "1M", "thousand")),                      # veintiún mil
    (21000, "f", d("20-and", "1F", "thousand")),                      # veintiuna mil
    (1_000_000, "m", d("1M", "million")), (3_000_000, "m", d("3", "millions")),
    (2_000_100, "m", d("2", "millions", "hundred")),
]

FRENCH = [
    (1, d("1")), (17, d("17")), (21, d("20", "et", "1")), (22, d("20", "2")), (61, d("60", "et", "1")),
    (70, d("60", "10")), (71, d("60", "et", "11")), (72, d("60", "12")), (79, d("60", "19")),  # soixante-dix…
    (80, d("80")), (81, d("80", "1")), (90, d("80", "10")), (91, d("80", "11")), (99, d("80", "19")),
    (100, d("hundred")), (101, d("hundred", "1")), (200, d("2", "hundred")), (280, d("2", "hundred", "80")),
    (1000, d("thousand")), (1980, d("thousand", "9", "hundred", "80")), (2000, d("2", "thousand")),
    (1_000_000, d("1", "million")),
]


@pytest.mark.parametrize("value, words", ENGLISH)
def test_english_numbers(value, words):
    assert say_number(value, "en") == words


@pytest.mark.parametrize("value, gender, words", SPANISH)
def test_spanish_numbers_with_gender_cien_ciento_veintiun(value, gender, words):
    assert say_number(value, "es", gender) == words


@pytest.mark.parametrize("value, words", FRENCH)
def test_french_numbers_soixante_dix_quatre_vingts_et_un(value, words):
    assert say_number(value, "fr") == words


def test_digits_star_and_pound():
    assert say_digits("4*0#", "fr") == d("4", "star", "0", "pound")


def test_dates():
    saturday = datetime.date(2026, 12, 5)
    assert say_date(saturday, "en") == d("day-6", "mon-11", "h-5", "20", "20", "6")
    assert say_date(datetime.date(1905, 1, 23), "en") == d("day-1", "mon-0", "20", "h-3", "19", "oh", "5")
    assert say_date(datetime.date(2005, 3, 30), "en") == d("day-3", "mon-2", "h-30", "2", "thousand", "5")
    assert say_date(datetime.date(1900, 7, 1), "en") == d("day-0", "mon-6", "h-1", "19", "hundred")
    assert say_date(saturday, "es") == d("day-6", "5", "es-de", "mon-11", "es-de", "2", "thousand", "26")
    assert say_date(datetime.date(2021, 6, 1), "es") == d("day-2", "1", "es-de", "mon-5", "es-de",
                                                          "2", "thousand", "21")
    assert say_date(datetime.date(2026, 2, 1), "fr") == d("day-0", "h-1", "mon-1", "2", "thousand", "20", "6")
    assert say_date(saturday, "fr") == d("day-6", "5", "mon-11", "2", "thousand", "20", "6")


def test_times():
    assert say_time(datetime.time(0, 0), "en") == d("12", "oclock", "a-m")
    assert say_time(datetime.time(13, 5), "en") == d("1", "oh", "5", "p-m")
    assert say_time(datetime.time(23, 45), "en") == d("11", "40", "5", "p-m")
    assert say_time(datetime.time(13, 0), "es") == d("1F", "oclock", "p-m")          # la una en punto
    assert say_time(datetime.time(9, 21), "es") == d("9", "and", "21", "a-m")        # nueve y veintiuno
    assert say_time(datetime.time(14, 20), "fr") == d("14", "hours", "20")           # quatorze heures vingt
    assert say_time(datetime.time(21, 0), "fr") == d("20", "et", "1", "hours")


def test_money():
    assert say_money(2150, "USD", "en") == d("20", "1", "dollars", "vm-and", "50")
    assert say_money(100, "usd", "en") == d("1", "letters/dollar")
    assert say_money(2100, "USD", "es") == d("20-and", "1M", "dollars")            # veintiún dólares
    assert say_money(-7105, "USD", "fr") == d("minus", "60", "et", "11", "dollars", "vm-and", "5")


@pytest.mark.parametrize("call", [
    lambda: say_number(5, "de"), lambda: say_number(5, "es", "x"), lambda: say_number(MAX_NUMBER + 1, "en"),
    lambda: say_number(2.5, "en"), lambda: say_number(True, "en"), lambda: say_digits("12a", "en"),
    lambda: say_money(100, "EUR", "fr"), lambda: say_money(1.5, "USD", "en"),
])
def test_bad_input_is_one_speech_error(call):
    with pytest.raises(SpeechError):
        call()


SAMPLE = sorted({*range(0, 1200), *range(1200, 1_000_000, 997), *range(1_000_000, MAX_NUMBER, 9_999_991),
                 MAX_NUMBER})


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_name_produced_exists_on_disk(language):
    library = SoundLibrary(sound_dir(language), read_audio)
    names = set()
    for value in SAMPLE:
        for gender in ("m", "f", "n"):
            names.update(say_number(value, language, gender))
            names.update(say_number(-value, language, gender))
    day = datetime.date(1899, 1, 1)
    while day < datetime.date(2101, 1, 1):
        names.update(say_date(day, language))
        day += datetime.timedelta(days=37)
    for month in range(1, 13):
        for dom in range(1, 32):
            try:
                names.update(say_date(datetime.date(2024, month, dom), language))
            except ValueError:
                pass
    for hour in range(24):
        for minute in range(60):
            names.update(say_time(datetime.time(hour, minute), language))
    names.update(say_digits("0123456789*#", language))
    for cents in (0, 1, 99, 100, 101, 2150, 123456, -5):
        names.update(say_money(cents, "USD", language))
    missing = sorted(name for name in names if not library.exists(name))
    assert not missing, f"{language}: {missing}"


def test_library_joins_trimmed_words_as_int16():
    library = SoundLibrary(sound_dir("en"), read_audio)
    one = library.audio(["digits/1"])
    two = library.audio(["digits/1", "digits/2"])
    assert one.dtype == np.int16 and 0.2 * 8000 < one.size < 1.0 * 8000
    assert two.size > one.size + 150 * 8  # the gap between words
    with pytest.raises(SpeechError):
        library.audio(["digits/nope"])
    with pytest.raises(SpeechError):
        library.audio(["../../../etc/passwd"])
