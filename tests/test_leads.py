"""Lead hygiene (firmware/leads.py): invalid numbers, duplicates in different written forms,
do-not-call numbers in different forms, the counts' identities, and the DNC list in SQLite."""

import csv
import io

import pytest

from firmware import FirmwareError
from firmware.contacts.csvfile import read_table
from firmware.leads import DncList, LeadProblemKind, check_leads, number_column

LEADS = """first_name,Phone,city
Ann,(212) 555-0100,NYC
Bob,212.555.0101,NYC
Cid,1 212 555 0100,NYC
Dan,555 0100,NYC
Eve,,NYC
Fay,+1 212 555 0102,NYC
Gus,011 1 212 555 0101,NYC
Hal,212-555-0103,NYC

Ivy,"+1 (212)
555-0104",NYC
Jon,212 555 01O5,NYC
"""
# Ann valid; Bob valid; Cid = Ann (duplicate, other form); Dan too short; Eve empty;
# Fay valid but on the DNC list in another form; Gus = Bob in international form (duplicate);
# Hal valid; (a blank line); Ivy valid over two lines; Jon has a letter O.


def report(dnc=(), zone="us", text=LEADS):
    return check_leads(read_table(text.encode()).rows, zone, dnc)


def test_counts_and_their_identities():
    got = report(dnc={"212 555 0102"})
    assert got.counts() == {"rows": 10, "valid": 7, "invalid": 3, "duplicates": 2, "dnc": 1, "callable": 4}
    assert got.rows == got.valid + got.invalid
    assert got.callable == got.valid - got.duplicates - got.dnc == len(got.leads)


def test_callable_leads_in_e164_with_their_rows_and_lines():
    got = report(dnc={"+12125550102"})
    assert [(lead.line, lead.number, lead.row["first_name"]) for lead in got.leads] == [
        (2, "+12125550100", "Ann"), (3, "+12125550101", "Bob"), (9, "+12125550103", "Hal"),
        (11, "+12125550104", "Ivy")]


def test_problems_name_lines_and_reasons():
    got = report(dnc={"(212) 555-0102"})
    problems = {(p.line, p.kind): p.message for p in got.problems}
    assert problems == {
        (4, LeadProblemKind.DUPLICATE): "+12125550100: same number as line 2",
        (5, LeadProblemKind.INVALID): "too short for us: 7 digits, national numbers have 10",
        (6, LeadProblemKind.INVALID): "not a number: empty",
        (7, LeadProblemKind.DNC): "+12125550102: on the do-not-call list",
        (8, LeadProblemKind.DUPLICATE): "+12125550101: same number as line 3",
        (13, LeadProblemKind.INVALID): "not a number: '212 555 01O5'",
    }
    assert str(got.problems[0]) == "line 4: +12125550100: same number as line 2"


def test_a_duplicate_of_a_dnc_number_counts_once_as_dnc_then_as_duplicate():
    text = "number\n212 555 0100\n+12125550100\n"
    got = report(dnc={"12125550100"}, text=text)
    assert (got.dnc, got.duplicates, got.callable) == (1, 1, 0)


def test_dict_rows_of_csv_dictreader_use_line_numbers_under_the_header():
    rows = list(csv.DictReader(io.StringIO("Number,name\n2125550100,a\nbad,b\n")))
    got = check_leads(rows, "us", ())
    assert got.callable == 1 and got.problems[0].line == 3


def test_zone_decides_what_is_valid():
    text = "number\n030 123456\n+49 30 123456\n0049 30 123456\n06 12 34 56 78\n"
    assert report(zone="de", text=text).counts() == {
        "rows": 4, "valid": 4, "invalid": 0, "duplicates": 2, "dnc": 0, "callable": 2}
    assert report(zone="fr", text=text).counts() == {
        "rows": 4, "valid": 3, "invalid": 1, "duplicates": 1, "dnc": 0, "callable": 2}


def test_empty_list_and_missing_number_column():
    assert report(text="number\n").counts() == dict.fromkeys(("rows", "valid", "invalid", "duplicates", "dnc",
                                                              "callable"), 0)
    with pytest.raises(FirmwareError, match="no number column"):
        report(text="name,city\nA,B\n")
    assert number_column(["Name", " PHONE "]) == " PHONE "
    with pytest.raises(FirmwareError, match="unknown zone"):
        check_leads([], "xx", ())


def test_as_dict_is_json_ready():
    import json
    data = json.loads(json.dumps(report().as_dict()))
    assert data["rows"] == 10 and data["problems"][0] == {
        "line": 4, "kind": "duplicate", "number": "1 212 555 0100", "message": "+12125550100: same number as line 2"}


# -- the do-not-call list --------------------------------------------------------------------


@pytest.fixture
def dnc(tmp_path):
    with DncList(tmp_path / "linebox.db") as dnc:
        yield dnc


def test_add_check_remove_in_any_written_form(dnc):
    assert dnc.add("(212) 555-0100", "us", source="manual", when=1.5)
    assert not dnc.add("+1 212 555 0100", "us")  # already there
    assert dnc.contains("12125550100", "us") and dnc.contains("011 1 212 555 0100", "us")
    assert not dnc.contains("2125550101", "us") and not dnc.contains("P", "us")
    assert dnc.numbers() == frozenset({"+12125550100"}) and dnc.count() == 1
    assert dnc.remove("1-212-555-0100", "us") and not dnc.remove("2125550100", "us")
    assert dnc.count() == 0
    with pytest.raises(FirmwareError, match="too short for us"):
        dnc.add("555 0100", "us")


def test_import_from_csv_reports_invalid_lines_and_counts_known_numbers(dnc):
    dnc.add("2125550100", "us")
    table = read_table(b"Phone;reason\n212 555 0100;asked\n+1 212 555 0199;robinson\n212 555 0199;again\n"
                       b"2125;bad\n")
    got = dnc.import_table(table, "us", source="import robinson.csv", when=10.0)
    assert (got.rows, got.added, got.already, got.invalid) == (4, 1, 2, 1)
    assert [str(p) for p in got.problems] == ["line 5: too short for us: 4 digits, national numbers have 10"]
    assert dnc.numbers() == frozenset({"+12125550100", "+12125550199"})


def test_the_list_survives_reopening_and_feeds_check_leads(tmp_path):
    path = tmp_path / "linebox.db"
    with DncList(path) as dnc:
        dnc.add("020 7946 0000", "uk")
    with DncList(path) as dnc:
        got = check_leads([{"number": "+44 20 7946 0000"}, {"number": "0044 20 7946 0001"}], "uk", dnc.numbers())
    assert (got.dnc, got.callable) == (1, 1)


def test_dnc_shares_the_box_database_with_the_configuration(tmp_path):
    from config_helpers import demo, open_store
    path = tmp_path / "linebox.db"
    with open_store(path) as store, DncList(path) as dnc:
        store.save(demo())
        dnc.add("2125550100", "us")
        rows = dict(store.conn.execute("SELECT component, MAX(version) FROM schema_version GROUP BY component"))
    assert rows["dnc"] == 1 and rows["config"] >= 13
