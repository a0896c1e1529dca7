"""The contacts page with Flask's test client: search, the CSV upload's validation report, confirm
(all or nothing, or the valid rows), a change made meanwhile, refused files, export."""

from __future__ import annotations

import io
import re

import pytest

from tests.web_helpers import PASSWORD, FakeEngine, make_accounts, make_app, make_services

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
GOOD = "name,numbers,account,notes\nAnn Lee,(212) 555-0100,1001,VIP\nBob Roy,212.555.0101; 011 44 20 7946 0000,,\n"
BAD = GOOD + "Cid,555 0100,,\nDup,1-212-555-0100,,\n"


@pytest.fixture
def web(tmp_path):
    accounts = make_accounts(tmp_path)
    accounts.add("ada", "admin", PASSWORD, 0.0)
    accounts.add("sue", "supervisor", PASSWORD, 0.0)
    engine = FakeEngine()
    services = make_services(tmp_path, accounts=accounts, engine=engine)
    client = make_app(services).test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"name": "sue", "password": PASSWORD, "csrf_token": token})
    token = CSRF.search(client.get("/contacts/").get_data(as_text=True)).group(1)  # the session's own
    yield client, services, engine, token
    services.store.close()


def upload(client, token, text: str | bytes, mode="add", name="c.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return client.post("/contacts/import", data={"csrf_token": token, "mode": mode, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def count(page: str, what: str) -> int:
    return int(re.search(rf'id="count-{what}">(\d+)<', page).group(1))


def confirm_form(page: str) -> dict[str, str]:
    form = page[page.index('id="confirm-form"'):]
    return dict(HIDDEN.findall(form[:form.index("</form>")]))


def test_report_before_anything_is_stored(web):
    client, services, _, token = web
    response = upload(client, token, BAD)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert [count(page, k) for k in ("rows", "valid", "invalid", "duplicates")] == [4, 2, 1, 1]
    assert "<td>4</td><td>invalid</td><td>numbers: &#39;555 0100&#39;: too short for us: 7 digits" in page
    assert "<td>5</td><td>duplicate</td><td>+12125550100 is already on line 2</td>" in page
    assert "Store 2 contacts" in page and "leaves out the 2 rows" in page
    assert services.store.load().contacts == ()


def test_confirm_stores_the_valid_rows_and_the_engine_applies_them(web):
    client, services, engine, token = web
    form = confirm_form(upload(client, token, BAD).get_data(as_text=True))
    assert form["skip_invalid"] == "1" and form["replace"] == "0"
    response = client.post("/contacts/import/confirm", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/contacts/"
    assert [c.numbers for c in services.store.load().contacts] == [("+12125550100",),
                                                                    ("+12125550101", "+442079460000")]
    assert engine.commands[-1] == "config reload"
    page = client.get("/contacts/").get_data(as_text=True)
    assert "2 contacts stored from c.csv" in page and "configuration revision 2 applied" in page
    assert "+442079460000" in page
    found = client.get("/contacts/?q=020+7946+0000").get_data(as_text=True)
    assert "Bob Roy" not in found  # in zone us, 020 7946 0000 is not the UK number written nationally
    found = client.get("/contacts/?q=%2B44+20+7946+0000").get_data(as_text=True)
    assert "Bob Roy" in found and "Ann Lee" not in found


def test_a_clean_file_is_stored_all_together(web):
    client, services, _, token = web
    form = confirm_form(upload(client, token, GOOD).get_data(as_text=True))
    assert "skip_invalid" not in form
    assert client.post("/contacts/import/confirm", data=form).status_code == 302
    assert len(services.store.load().contacts) == 2


def test_a_change_meanwhile_shows_the_new_report_instead_of_storing(web):
    client, services, _, token = web
    form = confirm_form(upload(client, token, GOOD).get_data(as_text=True))
    other = confirm_form(upload(client, token, "name,numbers\nZed,212 555 0100\n").get_data(as_text=True))
    assert client.post("/contacts/import/confirm", data=other).status_code == 302  # another hand stores Zed
    response = client.post("/contacts/import/confirm", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "the configuration changed since this report" in page
    assert count(page, "duplicates") == 1 and "already stored (contact &#39;Zed&#39;)" in page
    assert [c.name for c in services.store.load().contacts] == ["Zed"]


def test_replace_mode(web):
    client, services, _, token = web
    client.post("/contacts/import/confirm", data=confirm_form(upload(client, token, GOOD).get_data(as_text=True)))
    page = upload(client, token, "name,numbers\nZed,212 555 0100\n", mode="replace").get_data(as_text=True)
    assert count(page, "duplicates") == 0 and "Store 1 contact, replacing 2" in page
    client.post("/contacts/import/confirm", data=confirm_form(page))
    assert [c.name for c in services.store.load().contacts] == ["Zed"]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"name,numbers\nA\x00,1\n", "control character"),
    (b"x" * (1024 * 1024 + 1), "more than 1048576 bytes"),
])
def test_files_that_are_not_csv_are_refused_in_one_line(web, data, message):
    client, services, _, token = web
    response = upload(client, token, data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert services.store.load().contacts == ()


def test_missing_columns_refuse_the_file_with_no_confirm_button(web):
    client, _, _, token = web
    page = upload(client, token, "Full Name,phone number\nA,1\n").get_data(as_text=True)
    assert "missing column &#39;name&#39;" in page and 'id="refused"' in page and 'id="confirm-form"' not in page


def test_a_tampered_confirmation_is_refused(web):
    client, services, _, token = web
    form = confirm_form(upload(client, token, GOOD).get_data(as_text=True))
    form["data"] = "not base64!"
    response = client.post("/contacts/import/confirm", data=form)
    assert response.status_code == 400 and "did not come back intact" in response.get_data(as_text=True)
    assert services.store.load().contacts == ()


def test_export(web):
    client, _, _, token = web
    client.post("/contacts/import/confirm", data=confirm_form(upload(client, token, GOOD).get_data(as_text=True)))
    response = client.get("/contacts/export.csv")
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).splitlines() == [
        "name,numbers,account,language,notes", "Ann Lee,+12125550100,1001,,VIP",
        "Bob Roy,+12125550101; +442079460000,,,"]
