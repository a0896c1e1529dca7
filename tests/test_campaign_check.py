"""``linebox campaign check``: a lead list's hygiene report (contacts' check_leads) from CSV files."""

from __future__ import annotations

import json

import pytest

from firmware import FirmwareError
from firmware.campaign.hygiene import check_files, zone_of_country
from firmware.leads import DncList
from linebox.cli import main

LEADS = ("name,phone\n"
         "Ann,212-555-2001\n"
         "Bob,(212) 555 2002\n"
         "Ann again,+1 212 555 2001\n"  # duplicate of line 2 in another written form
         "Carl,555\n"  # invalid
         "Dora,2125552004\n"  # on the DNC list
         "Eve,\n")  # invalid: no number
DNC = "number\n+12125552004\n"


@pytest.fixture
def files(tmp_path):
    leads, dnc = tmp_path / "leads.csv", tmp_path / "dnc.csv"
    leads.write_text(LEADS)
    dnc.write_text(DNC)
    return leads, dnc


def test_report_counts(files):
    leads, dnc = files
    report = check_files(leads, "US", dnc)
    assert {k: report[k] for k in ("rows", "valid", "invalid", "duplicates", "dnc", "callable")} == {
        "rows": 6, "valid": 4, "invalid": 2, "duplicates": 1, "dnc": 1, "callable": 2}
    assert {p["line"]: p["kind"] for p in report["problems"]} == {4: "duplicate", 5: "invalid", 6: "dnc", 7: "invalid"}


def test_without_dnc_the_number_is_callable(files):
    leads, _ = files
    assert check_files(leads, "us")["callable"] == 3


def test_cli_json(files, capsys):
    leads, dnc = files
    assert main(["campaign", "check", str(leads), "--country", "US", "--dnc", str(dnc), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rows"], out["callable"], out["dnc"]) == (6, 2, 1)


@pytest.mark.parametrize("country, zone", [("US", "us"), ("de", "de"), ("GB", "uk")])
def test_country_codes(country, zone):
    assert zone_of_country(country) == zone


@pytest.mark.parametrize("country", ["USA", "XX", "", "u"])
def test_unknown_country_refused(country):
    with pytest.raises(FirmwareError, match="not one of the countries"):
        zone_of_country(country)


def test_cli_missing_file_one_line(tmp_path, capsys):
    assert main(["campaign", "check", str(tmp_path / "none.csv"), "--country", "US"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lead list" in err[0] and "none.csv" in err[0]


def test_without_dnc_file_the_stored_list_is_used(files, tmp_path, capsys):
    """The box's stored do-not-call list (DncList, what the campaigns filter with) is the check's
    list when no --dnc file is given; a --dnc file replaces it."""
    leads, dnc = files
    db = tmp_path / "linebox.db"
    with DncList(db) as stored:
        stored.add("(212) 555-2002", "us", source="test")  # Bob, line 3
    assert main(["campaign", "check", str(leads), "--country", "US", "--db", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["dnc"], out["callable"]) == (1, 2)
    assert [p["line"] for p in out["problems"] if p["kind"] == "dnc"] == [3]
    assert main(["campaign", "check", str(leads), "--country", "US", "--db", str(db), "--dnc", str(dnc),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [p["line"] for p in out["problems"] if p["kind"] == "dnc"] == [6]  # the file's number, not the stored


def test_stored_numbers_and_a_file_together(files):
    leads, dnc = files
    report = check_files(leads, "US", dnc, stored=frozenset({"+12125552002"}))
    assert (report["dnc"], report["callable"]) == (2, 1)


def test_a_named_database_that_does_not_exist_is_an_error(files, tmp_path, capsys):
    leads, _ = files
    assert main(["campaign", "check", str(leads), "--country", "US", "--db", str(tmp_path / "nope.db")]) != 0
    assert "no such database" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()
