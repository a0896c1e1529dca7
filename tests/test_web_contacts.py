"""The contacts page with Flask's test client: search, the CSV upload's validation report, confirm
(all or nothing, or the valid rows) of the file staged on the box (only its token goes to the
browser), cancel, tokens refused (wrong, expired, another user's or session's), a change made
meanwhile, refused files, export."""

from __future__ import annotations

import io
import os
import re
import stat

import pytest

from tests.web_helpers import Clock, FakeEngine, admin_client, make_app, signed_in, token_of
from webadmin.staging import STAGED_MAX_AGE_S

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
GOOD = "name,numbers,account,notes\nAnn Lee,(212) 555-0100,1001,VIP\nBob Roy,212.555.0101; 011 44 20 7946 0000,,\n"
BAD = GOOD + "Cid,555 0100,,\nDup,1-212-555-0100,,\n"


@pytest.fixture
def web(tmp_path):
    engine = FakeEngine()
    with admin_client(tmp_path, others=[("sue", "supervisor")], engine=engine, clock=Clock()) as (admin, services):
        client, token = login(admin.application, "sue")
        yield client, services, engine, token


def login(app, name: str):
    """A client of ``name`` and its session's CSRF token, from the contacts page."""
    client = signed_in(app, name)
    return client, token_of(client.get("/contacts/"))


def staged(services) -> list[str]:
    folder = services.data_dir / "staging" / "contacts"
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


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
    assert services.contacts.count() == 0


def test_confirm_stores_the_valid_rows_and_the_engine_finds_them_without_a_reload(web):
    client, services, engine, token = web
    form = confirm_form(upload(client, token, BAD).get_data(as_text=True))
    assert form["skip_invalid"] == "1" and set(form) == {"csrf_token", "token", "revision", "skip_invalid"}
    response = client.post("/contacts/import/confirm", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/contacts/"
    assert [c.numbers for c in services.contacts.each()] == [("+12125550100",),
                                                                    ("+12125550101", "+442079460000")]
    assert "config reload" not in engine.commands  # the engine reads the store at each lookup
    page = client.get("/contacts/").get_data(as_text=True)
    assert "2 contacts stored from c.csv (contacts revision 1)" in page
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
    assert services.contacts.count() == 2


def test_a_change_meanwhile_shows_the_new_report_instead_of_storing(web):
    client, services, _, token = web
    form = confirm_form(upload(client, token, GOOD).get_data(as_text=True))
    ada, ada_token = login(client.application, "ada")  # another hand stores Zed
    other = confirm_form(upload(ada, ada_token, "name,numbers\nZed,212 555 0100\n").get_data(as_text=True))
    assert ada.post("/contacts/import/confirm", data=other).status_code == 302
    response = client.post("/contacts/import/confirm", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "the contacts changed since this report" in page
    assert count(page, "duplicates") == 1 and "already stored (contact &#39;Zed&#39;)" in page
    assert [c.name for c in services.contacts.each()] == ["Zed"]
    again = confirm_form(page)  # the new report's form: the same staged file, the new revision
    assert again["token"] == form["token"] and again["revision"] != form["revision"]
    assert client.post("/contacts/import/confirm", data=again).status_code == 302
    assert [c.name for c in services.contacts.each()] == ["Zed", "Bob Roy"] and staged(services) == []


def test_replace_mode(web):
    client, services, _, token = web
    client.post("/contacts/import/confirm", data=confirm_form(upload(client, token, GOOD).get_data(as_text=True)))
    page = upload(client, token, "name,numbers\nZed,212 555 0100\n", mode="replace").get_data(as_text=True)
    assert count(page, "duplicates") == 0 and "Store 1 contact, replacing 2" in page
    client.post("/contacts/import/confirm", data=confirm_form(page))
    assert [c.name for c in services.contacts.each()] == ["Zed"]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"name,numbers\nA\x00,1\n", "control character"),
    (b"x" * (16 * 1024 * 1024 + 1), "more than 16777216 bytes"),
])
def test_files_that_are_not_csv_are_refused_in_one_line(web, data, message):
    client, services, _, token = web
    response = upload(client, token, data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert services.contacts.count() == 0


def test_missing_columns_refuse_the_file_with_no_confirm_button(web):
    client, _, _, token = web
    page = upload(client, token, "Full Name,phone number\nA,1\n").get_data(as_text=True)
    assert "missing column &#39;name&#39;" in page and 'id="refused"' in page and 'id="confirm-form"' not in page


def test_the_confirm_form_carries_the_token_not_the_file(web):
    client, services, _, token = web
    page = upload(client, token, GOOD).get_data(as_text=True)
    form = confirm_form(page)
    assert set(form) == {"csrf_token", "token", "revision"} and re.fullmatch(r"[A-Za-z0-9_-]{32}", form["token"])
    assert "Ann Lee" not in page and "QW5uIExlZ" not in page  # neither the file nor its base64 ("Ann Le")
    assert staged(services) == [form["token"] + ".staged"]
    path = services.data_dir / "staging" / "contacts" / (form["token"] + ".staged")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert path.read_bytes().endswith(GOOD.encode())
    assert client.post("/contacts/import/confirm", data=form).status_code == 302
    assert staged(services) == []  # removed once stored


def test_cancel_removes_the_staged_file_and_stores_nothing(web):
    client, services, _, token = web
    page = upload(client, token, GOOD).get_data(as_text=True)
    cancel = confirm_form(page.replace('id="cancel-form"', 'id="confirm-form"', 1)[page.index('id="cancel-form"'):])
    assert set(cancel) == {"csrf_token", "token"}
    response = client.post("/contacts/import/cancel", data=cancel)
    assert response.status_code == 302 and staged(services) == []
    assert "the import of c.csv was cancelled" in client.get("/contacts/").get_data(as_text=True)
    form = confirm_form(page)
    refused = client.post("/contacts/import/confirm", data=form)  # confirming afterwards: nothing left
    assert refused.status_code == 400 and "no longer waiting" in refused.get_data(as_text=True)
    assert services.contacts.count() == 0


def _refused(client, services, form) -> None:
    response = client.post("/contacts/import/confirm", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "this import is no longer waiting (confirmed, cancelled, expired or not yours): upload the file again" in page
    assert services.contacts.count() == 0 and services.contacts.revision() == 0


@pytest.mark.parametrize("token", ["", "not a token!", "../../linebox.db", "A" * 32, "A" * 33])
def test_a_wrong_token_is_refused_in_one_line(web, token):
    client, services, _, csrf = web
    form = confirm_form(upload(client, csrf, GOOD).get_data(as_text=True))
    good = form["token"]
    form["token"] = token
    _refused(client, services, form)
    assert staged(services) == [good + ".staged"]  # the real one still waits


def test_an_expired_token_is_refused_and_its_file_removed(web):
    client, services, _, token = web
    form = confirm_form(upload(client, token, GOOD).get_data(as_text=True))
    services.clock.now += STAGED_MAX_AGE_S - 60
    client.get("/contacts/")  # the session is in use (its own idle limit is 30 minutes too)
    assert staged(services) != []
    services.clock.now += 61
    _refused(client, services, form)
    assert staged(services) == []


def test_another_users_or_sessions_token_is_refused(web):
    client, services, _, token = web
    form = confirm_form(upload(client, token, GOOD).get_data(as_text=True))
    ada, ada_token = login(client.application, "ada")
    _refused(ada, services, dict(form, csrf_token=ada_token))  # another user
    again, again_token = login(client.application, "sue")
    _refused(again, services, dict(form, csrf_token=again_token))  # the same user, another session
    assert client.post("/contacts/import/cancel", data=dict(form, csrf_token=ada_token)).status_code == 400  # CSRF
    assert staged(services) == [form["token"] + ".staged"]
    assert client.post("/contacts/import/confirm", data=form).status_code == 302  # its own session still can


def test_one_staged_import_per_user(web):
    client, services, _, token = web
    first = confirm_form(upload(client, token, GOOD).get_data(as_text=True))
    second = confirm_form(upload(client, token, "name,numbers\nZed,212 555 0100\n").get_data(as_text=True))
    assert staged(services) == [second["token"] + ".staged"]
    _refused(client, services, first)
    assert client.post("/contacts/import/confirm", data=second).status_code == 302
    assert [c.name for c in services.contacts.each()] == ["Zed"]


def test_a_refused_file_is_not_staged(web):
    client, services, _, token = web
    upload(client, token, "Full Name,phone number\nA,1\n")
    assert staged(services) == []


def test_export(web):
    client, _, _, token = web
    client.post("/contacts/import/confirm", data=confirm_form(upload(client, token, GOOD).get_data(as_text=True)))
    response = client.get("/contacts/export.csv")
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).splitlines() == [
        "name,numbers,account,language,notes", "Ann Lee,+12125550100,1001,,VIP",
        "Bob Roy,+12125550101; +442079460000,,,"]


def test_more_contacts_than_the_old_cap_go_through_report_and_confirm_and_page(web):
    """5000 contacts (the configuration document held at most 1000) with long notes: the upload
    is far above the ordinary form limit of 64 kB and within the page's own; the confirmation
    carries only the token; the list shows them a page at a time."""
    client, services, _, token = web
    text = "name,numbers,notes\n" + "".join(f"C{i:04d},212 {200 + i // 10000:03d} {i % 10000:04d},{'n' * 250}\n"
                                            for i in range(5000))
    assert len(text) > 1_250_000
    page = upload(client, token, text).get_data(as_text=True)
    assert count(page, "valid") == 5000
    assert client.post("/contacts/import/confirm", data=confirm_form(page)).status_code == 302
    assert services.contacts.count() == 5000
    listed = client.get("/contacts/?page=3").get_data(as_text=True)
    assert "5000 contacts; page 3 of 100 (50 a page)" in listed
    assert ">C0100<" in listed and ">C0149<" in listed and ">C0150<" not in listed and ">C0099<" not in listed
    assert 'id="prev"' in listed and 'id="next"' in listed
    found = client.get("/contacts/?q=c499&page=1").get_data(as_text=True)
    assert "10 of 5000 contacts match c499." in found and ">C4999<" in found and 'id="next"' not in found
    exported = client.get("/contacts/export.csv").get_data(as_text=True).splitlines()
    assert len(exported) == 5001 and exported[5000].startswith("C4999,+12122004999,")


def test_expired_staged_imports_are_removed_when_the_web_admin_starts_and_the_page_is_shown(web):
    client, services, _, token = web
    upload(client, token, GOOD)
    make_app(services)  # a restart before they expire keeps them
    assert len(staged(services)) == 1
    services.clock.now += STAGED_MAX_AGE_S + 1
    make_app(services)
    assert staged(services) == []
    ada, ada_token = login(client.application, "ada")
    upload(ada, ada_token, GOOD)
    services.clock.now += STAGED_MAX_AGE_S + 1
    login(client.application, "sue")[0].get("/contacts/")  # another user shows the page
    assert staged(services) == []
