"""The contacts CSV import's validation report in a real browser (issue 14): Debian's chromium
driven by Playwright against ``linebox web`` and ``linebox run`` on the virtual board, each a
process of its own, as on the box. A supervisor uploads a file with invalid numbers and
duplicates, reads the report (counts and lines), confirms, and the contact store the running
engine reads finds them at once; a file without its required columns is refused with no way to store it.
"""

from __future__ import annotations

import pytest
from browser_helpers import BROWSER_MARKS, logged_in, running_box

from firmware.config import demo_config
from firmware.contacts.store import ContactStore

pytestmark = BROWSER_MARKS

LEADS = ("Name;Numbers;Account;Language;Notes;Balance\n"
         "Ann Lee;(212) 555-0100;1001;en;VIP;12.50\n"
         "Bob Díaz;+34 612 345 678;1002;es-ES;;0.00\n"
         "Cid;555 0100;;;;\n"                      # line 4: no area code
         "Dora;1-212-555-0100;;;;\n"               # line 5: Ann's number, another written form
         ";212 555 0102;;;;\n")                    # line 6: no name


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with running_box(tmp_path_factory.mktemp("contactsbox"), demo_config(), roles=("admin", "supervisor")) as running:
        yield running


def upload(page, text: bytes, name: str) -> None:
    page.set_input_files("#f-file", files=[{"name": name, "mimeType": "text/csv", "buffer": text}])
    page.click("#upload-form button[type=submit]")


def test_1_the_validation_report_then_confirm_and_the_engine_finds_them(box):
    page, errors = logged_in(box, "supervisor", all_errors=False)
    page.click("nav >> text=Contacts")
    assert "0 contacts" in page.inner_text("#count")
    upload(page, LEADS.encode("cp1252"), "crm-export.csv")  # Excel's ; and Windows-1252
    counts = {what: page.inner_text(f"#count-{what}") for what in ("rows", "valid", "invalid", "duplicates")}
    assert counts == {"rows": "5", "valid": "2", "invalid": "2", "duplicates": "1"}
    rows = [row.inner_text().split("\t") for row in page.locator("#problems tbody tr").all()]
    assert [(line, kind) for line, kind, _ in rows] == [("4", "invalid"), ("5", "duplicate"), ("6", "invalid")]
    assert "too short for us: 7 digits" in rows[0][2] and "+12125550100 is already on line 2" in rows[1][2]
    assert "windows-1252" in page.inner_text("#counts")
    with ContactStore(box.db) as store:
        assert store.count() == 0  # nothing stored before the confirmation
    fields = page.eval_on_selector_all("#confirm-form input", "inputs => inputs.map(i => [i.name, i.value.length])")
    assert sorted(name for name, _ in fields) == ["csrf_token", "revision", "skip_invalid", "token"]
    assert max(length for _, length in fields) < 64  # the file stays on the box: only its token comes back
    page.click("#confirm")
    page.wait_for_url("**/contacts/")
    flash = page.inner_text(".flash")
    assert "2 contacts stored from crm-export.csv" in flash and "find them at once" in flash  # no reload
    assert "Bob Díaz" in page.inner_text("#contacts") and "+34612345678" in page.inner_text("#contacts")
    page.fill("#f-q", "212-555-0100")
    page.click("#search button[type=submit]")
    assert page.locator("#contacts tbody tr").count() == 1 and "Ann Lee" in page.inner_text("#contacts")
    with ContactStore(box.db) as store:
        assert store.by_number("2125550100", "us").name == "Ann Lee"
        bob = store.by_number("+34612345678", "us")
    assert (bob.language, dict(bob.fields)) == ("es_ES", {"balance": "0.00"})
    assert not errors, errors


def test_2_a_file_without_its_columns_cannot_be_stored(box):
    page, errors = logged_in(box, "admin", all_errors=False)
    page.goto(box.url + "/contacts/")
    upload(page, b"Full Name,Phone Number\nA,2125550100\n", "wrong.csv")
    assert "missing column 'name'" in page.inner_text("#problems")
    assert page.locator("#confirm").count() == 0 and "nothing stored" in page.inner_text("#refused")
    page.click("#cancel")
    assert "2 contacts" in page.inner_text("#count")
    assert not errors, errors
