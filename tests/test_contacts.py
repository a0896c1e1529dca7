"""Contacts from CSV (firmware/contacts/): the trust boundary, the validation report, the
all-or-nothing store (the contact store's own tables), export, search, the lookup by caller ID,
and ``linebox contacts``."""

import json

import pytest
from config_helpers import demo

from firmware import FirmwareError
from firmware.config.model import Contact
from firmware.contacts.csvfile import MAX_CELL_CHARS, MAX_COLUMNS, MAX_CSV_BYTES, MAX_ROWS, read_table
from firmware.contacts.directory import contacts_csv, export_csv
from firmware.contacts.importer import ProblemKind, apply_import, check_import, refusal
from firmware.contacts.store import ContactStore
from linebox.cli import main

GOOD = ("name,numbers,account,language,notes,balance\n"
        "Ann Lee,(212) 555-0100; 212.555.0101,1001,en,VIP,12.50\n"
        "Bob Díaz,+34 612 345 678,1002,ES,,0.00\n")


def table(text: str | bytes):
    return read_table(text.encode("utf-8") if isinstance(text, str) else text)


# -- the trust boundary ----------------------------------------------------------------------


def test_utf8_with_bom_and_crlf():
    got = table(b"\xef\xbb\xbfName;Numbers\r\nZo\xc3\xab;2125550100\r\n")
    assert (got.columns, got.encoding, got.delimiter) == (("name", "numbers"), "utf-8", ";")
    assert [(row.line, row.values["name"]) for row in got.rows] == [(2, "Zoë")]


def test_windows_1252_fallback():
    got = table("name,numbers\nJosé Müller,2125550100\n".encode("cp1252"))
    assert got.encoding == "windows-1252" and got.rows[0].values["name"] == "José Müller"


def test_line_numbers_count_blank_lines_and_quoted_line_breaks():
    got = table('name,numbers,notes\nA,2125550100,"two\nlines"\n\n\nB,2125550101,\n')
    assert [row.line for row in got.rows] == [2, 6]


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "the file is empty"),
    (b"  \n\n", "the file is empty"),
    (b"name,numbers\nA\x00,1\n", "line 2: control character '\\x00'"),
    (b"name,,numbers\n", "line 1: column 2 has no name"),
    (b"name,Name\n", "line 1: column 'name' appears twice"),
    (b"name,numbers\nA,1,extra\n", "line 2: 3 cells, the header has 2 columns"),
    (b'name,numbers\n"A,1\n', "not valid CSV"),
    (",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)).encode(), f"{MAX_COLUMNS + 1} columns, at most {MAX_COLUMNS}"),
    (b"name,numbers\n" + b"x" * (MAX_CELL_CHARS + 1) + b",1\n", f"a cell of {MAX_CELL_CHARS + 1} characters"),
    (b"name\n" + b"a\n" * (MAX_ROWS + 1), f"more than {MAX_ROWS} rows"),
    (b"x" * (MAX_CSV_BYTES + 1), "more than 1048576 bytes"),
    (b"name\n\x81\x8d\x8f\n", "neither UTF-8 nor Windows-1252"),
])
def test_files_that_are_not_csv_are_refused_in_one_line(data, reason):
    with pytest.raises(FirmwareError) as error:
        read_table(data)
    assert reason in str(error.value) and "\n" not in str(error.value)


# -- the report ------------------------------------------------------------------------------


def test_a_good_file_all_valid_numbers_in_e164():
    report = check_import(table(GOOD), "us")
    assert (report.rows, report.valid, report.invalid, report.duplicates, report.problems) == (2, 2, 0, 0, ())
    ann, bob = report.contacts
    assert ann == Contact("Ann Lee", ("+12125550100", "+12125550101"), "1001", (("balance", "12.50"),), "en", "VIP")
    assert (bob.numbers, bob.language, bob.fields) == (("+34612345678",), "es", (("balance", "0.00"),))


def test_missing_required_columns_refuse_the_whole_file():
    report = check_import(table("Full Name,phone number\nA,1\n"), "us")
    assert report.missing_columns == ("name", "numbers")
    assert report.refused and report.valid == 0 and report.contacts == ()
    messages = [str(p) for p in report.problems]
    assert "line 1: missing column 'name'" in messages and "line 1: missing column 'numbers'" in messages
    assert any("column 'full name': a free field's name" in m for m in messages)
    assert refusal(report).startswith("nothing stored: line 1: missing column 'name'")


def test_invalid_rows_and_duplicates_counted_and_listed_with_lines():
    text = ("name,number,account\n"
            "Ann,212 555 0100,1\n"           # 2 valid
            "Bob,555 0100,\n"                # 3 too short (no area code)
            ",212 555 0102,\n"               # 4 no name
            "Cid,+1 (212) 555-0100,\n"       # 5 same number as line 2, another written form
            "Dan,212 555 0103,1\n"           # 6 same account as line 2
            "Eve,,\n"                        # 7 neither number nor account
            "Fay,212 555 0104,12a\n"         # 8 bad account
            "Gus,212 555 0105,,\n"[:-2] + "\n"
            "Hal,1-212-555-0106; 011 44 20 7946 0000,\n")  # 10 valid, two numbers
    report = check_import(table(text), "us")
    assert (report.rows, report.valid, report.invalid, report.duplicates) == (9, 3, 4, 2)
    assert report.valid + report.invalid + report.duplicates == report.rows
    listed = {(p.line, p.kind) for p in report.problems}
    assert listed == {(3, ProblemKind.INVALID), (4, ProblemKind.INVALID), (5, ProblemKind.DUPLICATE),
                      (6, ProblemKind.DUPLICATE), (7, ProblemKind.INVALID), (8, ProblemKind.INVALID)}
    by_line = {p.line: p.message for p in report.problems}
    assert by_line[3] == "numbers: '555 0100': too short for us: 7 digits, national numbers have 10"
    assert by_line[5] == "+12125550100 is already on line 2"
    assert by_line[6] == "account 1 is already on line 2"
    assert by_line[7].startswith("numbers: empty, and no account")
    assert by_line[8] == "account: '12a' is not an account number of 1-32 digits or ''"
    assert [c.name for c in report.contacts] == ["Ann", "Gus", "Hal"]
    assert report.contacts[2].numbers == ("+12125550106", "+442079460000")


def test_duplicates_against_stored_contacts_unless_replacing(contacts):
    contacts.add([Contact("Old", ("+12125550100",), "7")], "us")
    text = "name,numbers,account\nNew,2125550100,\nOther,2125550199,7\nFresh,2125550150,8\n"
    report = check_import(table(text), "us", contacts)
    assert (report.valid, report.duplicates, report.stored) == (1, 2, 1)
    assert [str(p) for p in report.problems] == [
        "line 2: +12125550100 is already stored (contact 'Old')",
        "line 3: account 7 is already stored (contact 'Old')"]
    assert check_import(table(text), "us", contacts, replace=True).valid == 3


def test_numbers_are_read_in_the_zone():
    text = "name,numbers\nHans,030 123456\nJean,+33 6 12 34 56 78\n"
    assert [c.numbers for c in check_import(table(text), "de").contacts] == [("+4930123456",), ("+33612345678",)]
    report = check_import(table(text), "us")  # 030... is no US number
    assert report.invalid == 1 and report.problems[0].line == 2


def test_the_configuration_rules_apply_to_every_field():
    long_name = "x" * 65
    text = (f"name,numbers,language,notes,colour\n{long_name},2125550100,,,\nA,2125550101,english,,\n"
            f"B,2125550102,,{'n' * 257},\nC,2125550103,,,{'c' * 65}\n")
    report = check_import(table(text), "us")
    assert report.invalid == 4
    messages = [p.message for p in report.problems]
    assert messages[0].startswith("name:") and messages[1].startswith("language:")
    assert messages[2].startswith("notes:") and messages[3].startswith("fields.colour:")


def test_the_box_limit_is_a_problem_of_the_whole_file(tmp_path):
    with ContactStore(tmp_path / "linebox.db", max_contacts=5) as small:
        small.add([Contact(f"C{i}", (f"+1212555{i:04d}",)) for i in range(3)], "us")
        two = table("name,numbers\nA,3125550100\nB,3125550101\n")
        assert check_import(two, "us", small).ok  # 3 + 2 = the limit exactly
        three = table("name,numbers\nA,3125550100\nB,3125550101\nC,3125550102\n")
        report = check_import(three, "us", small)
        assert report.refused and report.problems[-1].kind is ProblemKind.LIMIT
        assert "3 stored + 3 new contacts: the box holds at most 5" in report.problems[-1].message
        with pytest.raises(FirmwareError, match="nothing stored: line 1: 3 stored"):
            apply_import(small, three, "us", skip_invalid=True)
        assert check_import(three, "us", small, replace=True).ok  # replacing: 3 of 5
        apply_import(small, two, "us")
        assert small.count() == 5


# -- storing ---------------------------------------------------------------------------------


@pytest.fixture
def contacts(tmp_path):
    with ContactStore(tmp_path / "linebox.db") as store:
        yield store


def names(store: ContactStore) -> list[str]:
    return [c.name for c in store.each()]


def test_apply_is_all_or_nothing(contacts):
    bad = GOOD + "Cid,555 0100,\n"
    revision = contacts.revision()
    with pytest.raises(FirmwareError, match="nothing stored: 1 invalid and 0 duplicate rows"):
        apply_import(contacts, table(bad), "us")
    assert contacts.revision() == revision and contacts.count() == 0
    report = apply_import(contacts, table(bad), "us", skip_invalid=True)
    assert report.valid == 2 and names(contacts) == ["Ann Lee", "Bob Díaz"]
    assert contacts.revision() == revision + 1


def test_a_failure_inside_the_transaction_stores_nothing(contacts):
    contacts.add([Contact("Old", ("+12125550100",))], "us")

    def refuse(inside):
        inside.conn.execute("INSERT INTO contacts (position, name, numbers, fields) VALUES (99, 'half', '[]', '{}')")
        raise FirmwareError("refused halfway")

    with pytest.raises(FirmwareError, match="refused halfway"):
        contacts.store(refuse, replace=True)
    assert names(contacts) == ["Old"] and contacts.by_number("2125550100", "us").name == "Old"
    with pytest.raises(FirmwareError, match="a number is given twice"):
        contacts.add([Contact("A", ("+12125550199",)), Contact("B", ("+12125550199",))], "us")
    assert names(contacts) == ["Old"] and contacts.revision() == 1


def test_apply_adds_and_replaces(contacts):
    apply_import(contacts, table(GOOD), "us")
    with pytest.raises(FirmwareError, match="already stored"):
        apply_import(contacts, table(GOOD), "us")
    apply_import(contacts, table("name,numbers\nZed,2125550999\n"), "us")
    assert names(contacts) == ["Ann Lee", "Bob Díaz", "Zed"]
    apply_import(contacts, table("name,numbers\nZed,2125550999\n"), "us", replace=True)
    assert names(contacts) == ["Zed"]
    assert contacts.by_number("212 555 0100", "us") is None  # the replaced contacts' numbers are gone


def test_replacing_with_a_file_that_reuses_stored_numbers(contacts):
    apply_import(contacts, table(GOOD), "us")
    report = apply_import(contacts, table(GOOD), "us", replace=True)  # the same numbers: no duplicates
    assert report.valid == 2 and names(contacts) == ["Ann Lee", "Bob Díaz"]


def test_export_then_import_gives_the_same_contacts(contacts, tmp_path):
    apply_import(contacts, table(GOOD + 'Cy "Q",2125550177,,,"says ""hi"", twice",\n'), "us")
    before = list(contacts.each())
    text = "".join(export_csv(contacts))
    assert text.splitlines()[0] == "name,numbers,account,language,notes,balance"
    apply_import(contacts, table(text), "us", replace=True)
    assert list(contacts.each()) == before


def test_export_streams_in_pieces_in_stored_order(contacts):
    many = [Contact(f"Name {i:04d}", (f"+1212555{i:04d}",), fields=((("tier", "gold"),) if i == 1200 else ()))
            for i in range(1300)]
    contacts.add(many, "us")
    pieces = list(export_csv(contacts))
    assert len(pieces) == 3  # 500 contacts a piece: never the whole table in one string
    assert pieces[0].startswith("name,numbers,account,language,notes,tier\r\n")
    assert not pieces[1].startswith("name,")
    lines = "".join(pieces).splitlines()
    assert len(lines) == 1301 and lines[1] == "Name 0000,+12125550000,,,,"
    assert lines[1201] == "Name 1200,+12125551200,,,,gold"
    assert list(contacts.each()) == many


def test_export_defuses_spreadsheet_formulas():
    text = contacts_csv([Contact("=HYPERLINK(1)", ("+12125550100",), notes="-2+3")])
    assert text.splitlines()[1] == "'=HYPERLINK(1),+12125550100,,,'-2+3"


# -- search and the lookup by caller ID ------------------------------------------------------

CONTACTS = (Contact("Bob Díaz", ("+34612345678",), "2002"),
            Contact("Ann Lee", ("+12125550100", "+442079460000"), "1001", (("city", "Boston"),)),
            Contact("Per_cent 100%", ("+12125550177",)))


@pytest.mark.parametrize(("query", "zone", "found"), [
    ("ann", "us", ["Ann Lee"]),
    ("DÍAZ", "us", ["Bob Díaz"]),  # any case, any script
    ("200", "us", ["Bob Díaz"]),  # account substring
    ("boston", "us", ["Ann Lee"]),  # a free field's text
    ("city", "us", []),  # not a free field's name
    ("(212) 555-0100", "us", ["Ann Lee"]),  # a whole number, compared in E.164
    ("020 7946 0000", "uk", ["Ann Lee"]),
    ("0044 20 7946 0000", "de", ["Ann Lee"]),
    ("555 01", "us", ["Ann Lee", "Per_cent 100%"]),  # digits of a part of a number
    ("612", "us", ["Bob Díaz"]),
    ("55", "us", []),  # two digits: too few to search numbers
    ("2125550199", "us", []),
    ("0%", "us", ["Per_cent 100%"]),  # LIKE's wildcards are the query's own characters
    ("t_1", "us", []),
    ("", "us", ["Ann Lee", "Bob Díaz", "Per_cent 100%"]),  # by name
])
def test_search(contacts, query, zone, found):
    contacts.add(CONTACTS, "us")
    page, total = contacts.search(query, zone)
    assert [c.name for c in page] == found and total == len(found)


def test_search_pages(contacts):
    contacts.add([Contact(f"Agent {i:03d}", (f"+1212555{i:04d}",)) for i in range(120, 0, -1)], "us")
    page, total = contacts.search("agent", "us", offset=50, limit=50)
    assert total == 120 and [c.name for c in page] == [f"Agent {i:03d}" for i in range(51, 101)]
    last, _ = contacts.search("agent", "us", offset=100, limit=50)
    assert len(last) == 20 and last[-1].name == "Agent 120"
    assert contacts.search("agent", "us", offset=500, limit=50) == ([], 120)


def test_lookup_by_caller_id_matches_any_written_form_on_both_sides(contacts):
    contacts.add([Contact("Ann", ("+12125550100",), "42"), Contact("Old", ("3125550177",))], "us")
    for caller_id in ("2125550100", "12125550100", "+12125550100", "011 1 212 555 0100"):
        assert contacts.by_number(caller_id, "us").name == "Ann"
    for caller_id in ("3125550177", "13125550177"):  # stored as written: normalised when stored
        assert contacts.by_number(caller_id, "us").name == "Old"
    for caller_id in ("", "P", "O", "2125550101", "5550100"):
        assert contacts.by_number(caller_id, "us") is None
    assert contacts.by_account("42").name == "Ann" and contacts.by_account("4") is None
    assert contacts.by_account("") is None
    contacts.add([Contact("Kim", ("+442079460000",))], "uk")
    assert contacts.by_number("02079460000", "uk").name == "Kim"


# -- linebox contacts ------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "linebox.db"
    assert main(["config", "import", "--db", str(path), _demo_yaml(tmp_path)]) == 0
    return str(path)


def _demo_yaml(tmp_path) -> str:
    from firmware.config import to_yaml
    path = tmp_path / "demo.yaml"
    path.write_text(to_yaml(demo()), encoding="utf-8")
    return str(path)


def test_cli_dry_run_reports_and_stores_nothing(db, tmp_path, capsys):
    capsys.readouterr()
    path = tmp_path / "c.csv"
    path.write_text(GOOD + "Cid,555 0100,\nDup,212-555-0100,\n", encoding="utf-8")
    assert main(["contacts", "import", str(path), "--dry-run", "--json", "--db", db]) == 2
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert {k: out[k] for k in ("rows", "valid", "invalid", "duplicates", "stored")} == {
        "rows": 4, "valid": 2, "invalid": 1, "duplicates": 1, "stored": False}
    assert [p["line"] for p in out["problems"]] == [4, 5]
    assert captured.err.startswith("linebox: nothing stored: 1 invalid and 1 duplicate rows")
    assert main(["contacts", "export", "--db", db]) == 0
    assert capsys.readouterr().out == "name,numbers,account,language,notes\r\n"


def test_cli_import_export_search(db, tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text(GOOD + "Cid,555 0100,\n", encoding="utf-8")
    assert main(["contacts", "import", str(path), "--db", db]) == 2  # all or nothing
    capsys.readouterr()
    assert main(["contacts", "import", str(path), "--skip-invalid", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "rows 3, valid 2, invalid 1, duplicates 0" in out and "line 4: numbers: '555 0100'" in out
    assert "stored 2 contacts (contacts revision 1)" in out
    assert main(["contacts", "search", "212 555 0101", "--json", "--db", db]) == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)] == ["Ann Lee"]
    exported = tmp_path / "out.csv"
    assert main(["contacts", "export", "-o", str(exported), "--db", db]) == 0
    assert "Ann Lee,+12125550100; +12125550101,1001,en,VIP,12.50" in exported.read_text(encoding="utf-8")


def test_cli_refuses_a_missing_file_in_one_line(db, tmp_path, capsys):
    assert main(["contacts", "import", str(tmp_path / "nope.csv"), "--db", db]) == 2
    err = capsys.readouterr().err
    assert "nope.csv: cannot read" in err and err.count("\n") == 1


def test_cli_do_not_call_list(db, tmp_path, capsys):
    path = tmp_path / "robinson.csv"
    path.write_text("Phone,reason\n(212) 555-0100,asked\n1 212 555 0100,again\nabc,typo\n212 555 0101,\n",
                    encoding="utf-8")
    assert main(["contacts", "dnc", "import", str(path), "--json", "--db", db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("rows", "added", "already", "invalid", "total")} == {
        "rows": 4, "added": 2, "already": 1, "invalid": 1, "total": 2}
    assert out["problems"][0]["line"] == 4
    assert main(["contacts", "dnc", "check", "+1 212 555 0100", "--db", db]) == 0
    assert "+12125550100 is on the do-not-call list" in capsys.readouterr().out
    assert main(["contacts", "dnc", "remove", "2125550100", "--db", db]) == 0
    assert main(["contacts", "dnc", "check", "2125550100", "--db", db]) == 1
    assert main(["contacts", "dnc", "add", "011 44 20 7946 0000", "--db", db]) == 0
    assert "+442079460000 added to" in capsys.readouterr().out.splitlines()[-1]
    assert main(["contacts", "dnc", "add", "555 0100", "--db", db]) == 2  # one line, nothing stored
    assert "too short for us" in capsys.readouterr().err


def test_a_stored_import_reaches_another_process_at_once_and_leaves_the_configuration(db, tmp_path):
    """The engine's contact store (another connection) finds an import at once: no reload, and
    the configuration's revision does not move (the contacts are not part of it)."""
    from config_helpers import open_store as store_at
    with store_at(db) as config_side, ContactStore(db) as engine_side:
        revision = config_side.config_version()
        assert engine_side.by_number("+1 (212) 555-0101", "us") is None
        path = tmp_path / "c.csv"
        path.write_text(GOOD, encoding="utf-8")
        assert main(["contacts", "import", str(path), "--db", db]) == 0
        assert engine_side.by_number("+1 (212) 555-0101", "us").name == "Ann Lee"
        assert engine_side.revision() == 1 and config_side.config_version() == revision


def test_lookups_read_by_index_never_scanning_the_table(contacts):
    """What "never loaded whole" rests on: SQLite's plan for each question a call asks."""
    def plan(sql, *args):
        return " ".join(row[-1] for row in contacts.conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))

    by_number = plan("SELECT c.name FROM contact_numbers n JOIN contacts c ON c.position = n.contact"
                     " WHERE n.number = ?", "+12125550100")
    assert "SEARCH n USING PRIMARY KEY" in by_number and "SCAN" not in by_number
    by_account = plan("SELECT name FROM contacts WHERE account = ? ORDER BY position LIMIT 1", "42")
    assert "USING INDEX contacts_account" in by_account and "SCAN" not in by_account
    listing = plan("SELECT position, name, numbers, account, fields, language, notes FROM contacts"
                   " ORDER BY name COLLATE NOCASE, position LIMIT 50 OFFSET 0")
    assert "INDEX contacts_name" in listing and "TEMP B-TREE" not in listing  # a page in name order, no sort
