"""``linebox bench contacts``: the scene it measures is what it says (small sizes here; the
figures at 50,000 contacts are in docs/user-guide.md)."""

import json
import random

from firmware.contacts.csvfile import read_table
from firmware.contacts.importer import check_import
from linebox.bench.contacts import contacts_file, measure
from linebox.cli import main


def test_the_scene_file_is_all_valid_and_distinct():
    data, numbers = contacts_file(400, random.Random(3))
    report = check_import(read_table(data), "us")
    assert (report.rows, report.valid, report.problems) == (400, 400, ())
    assert len(set(numbers)) == len(numbers) == sum(len(c.numbers) for c in report.contacts)


def test_measure_imports_looks_up_and_exports(tmp_path):
    result = measure(300, 500, 5, str(tmp_path))
    assert result["contacts"] == 300 and result["added"] == 1000
    assert 0.85 * 500 < result["found"] < 0.95 * 500  # 9 of 10 questions are stored numbers
    assert result["export_bytes"] > result["csv_bytes"] * 0.9
    assert 0 < result["lookup_by_number"]["p50_us"] <= result["lookup_by_number"]["p99_us"]
    assert list(tmp_path.iterdir()) == []  # the temporary database is gone


def test_cli_prints_one_json_object(capsys, tmp_path):
    assert main(["bench", "contacts", "--contacts", "50", "--lookups", "20", "--folder", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["contacts"] == 50
    assert main(["bench", "contacts", "--contacts", "0"]) == 2
