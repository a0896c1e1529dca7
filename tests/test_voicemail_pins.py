"""Mailbox PINs (firmware/voicemail/pins.py): hashed with the account store's scrypt, locked out
after the accounts' number of wrong PINs for the accounts' time, with ``now`` passed in."""

from __future__ import annotations

import sqlite3

import pytest

from firmware import FirmwareError
from firmware.accounts.model import LOCKOUT_SECONDS, MAX_FAILED_LOGINS, ScryptCost
from firmware.voicemail.pins import PinBook, PinCheck, check_pin

CHEAP = ScryptCost(n=2, r=1, p=1)  # the real cost is RFC 7914's interactive one; tests need speed
T0 = 1_800_000_000.0


@pytest.fixture
def book(tmp_path):
    pins = PinBook(tmp_path / "db.sqlite", cost=CHEAP)
    yield pins
    pins.close()


def test_the_pin_is_stored_as_a_scrypt_hash_not_the_digits(tmp_path, book):
    book.set_pin("201", "4826", T0)
    [(stored,)] = sqlite3.connect(tmp_path / "db.sqlite").execute("SELECT pin_hash FROM voicemail_pin").fetchall()
    assert stored.startswith("scrypt$") and "4826" not in stored
    assert book.check("201", "4826", T0) is PinCheck.OK
    assert book.check("201", "4827", T0) is PinCheck.WRONG


def test_no_pin_is_no_pin_not_a_default(book):
    assert book.check("201", "0000", T0) is PinCheck.NO_PIN
    assert book.check("201", "", T0) is PinCheck.NO_PIN
    assert not book.status("201").has_pin


@pytest.mark.parametrize(("pin", "error"), [
    ("123", "4-10 digits"), ("12345678901", "4-10 digits"), ("12a4", "4-10 digits"), ("", "4-10 digits"),
    ("1111", "one digit repeated"), ("201", "4-10 digits"), ("2010", None), ("1234567890", None),
])
def test_pin_rules(pin, error):
    if error is None:
        assert check_pin("201", pin) == pin
    else:
        with pytest.raises(FirmwareError, match=error):
            check_pin("201", pin)


def test_the_mailbox_number_is_refused_as_its_pin():
    with pytest.raises(FirmwareError, match="must not be the mailbox number"):
        check_pin("2010", "2010")


def test_five_wrong_pins_lock_for_five_minutes_edges_included(book):
    book.set_pin("201", "4826", T0)
    for attempt in range(1, MAX_FAILED_LOGINS):
        assert book.check("201", "1111", T0 + attempt) is PinCheck.WRONG
    assert book.status("201").failed == MAX_FAILED_LOGINS - 1
    assert book.check("201", "1111", T0 + 10) is PinCheck.LOCKED  # the fifth
    assert (MAX_FAILED_LOGINS, LOCKOUT_SECONDS) == (5, 300)
    until = T0 + 10 + LOCKOUT_SECONDS
    assert book.status("201").locked_until == until
    assert book.check("201", "4826", until - 1) is PinCheck.LOCKED  # even the right PIN, a second before
    assert book.check("201", "4826", until) is PinCheck.OK  # at the end: open again
    assert book.status("201").failed == 0


def test_a_right_pin_resets_the_count(book):
    book.set_pin("201", "4826", T0)
    for _ in range(MAX_FAILED_LOGINS - 1):
        book.check("201", "0000", T0)
    assert book.check("201", "4826", T0) is PinCheck.OK
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert book.check("201", "0000", T0) is PinCheck.WRONG  # four more: still not locked


def test_mailboxes_lock_separately_and_changing_the_pin_unlocks(book):
    book.set_pin("201", "4826", T0)
    book.set_pin("202", "7391", T0)
    for _ in range(MAX_FAILED_LOGINS):
        book.check("201", "0000", T0)
    assert book.check("201", "4826", T0) is PinCheck.LOCKED
    assert book.check("202", "7391", T0) is PinCheck.OK
    book.set_pin("201", "5937", T0 + 1)
    assert book.check("201", "5937", T0 + 2) is PinCheck.OK


def test_a_refused_pin_changes_nothing(book):
    book.set_pin("201", "4826", T0)
    with pytest.raises(FirmwareError):
        book.set_pin("201", "12", T0)
    with pytest.raises(FirmwareError):
        book.set_pin("2x1", "4826", T0)
    assert book.check("201", "4826", T0) is PinCheck.OK


def test_pins_survive_a_reopen_and_clear(tmp_path):
    pins = PinBook(tmp_path / "db.sqlite", cost=CHEAP)
    pins.set_pin("201", "4826", T0)
    pins.close()
    again = PinBook(tmp_path / "db.sqlite", cost=CHEAP)
    assert again.check("201", "4826", T0) is PinCheck.OK
    again.clear_pin("201")
    assert again.check("201", "4826", T0) is PinCheck.NO_PIN
    again.close()
