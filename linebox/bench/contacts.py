"""``linebox bench contacts --json``: the contact store at a contact centre's size.

Scene: a CSV file of ``--contacts`` (50,000) contacts -- names, one or two US numbers written
as people write them, an account, a free field -- imported into a fresh database in a
temporary folder as ``linebox contacts import`` does it (read at the CSV trust boundary,
validation report, one transaction with the report checked again inside it), then a file of
1,000 more (each row's numbers and account asked of the full store's indexes). Then, on that
store: lookups by caller ID (what the IVR's lookup node and the screen pop ask; a number of a
stored contact in another written form, or one nobody has, 9 to 1), lookups by account,
searches of the web contacts page (a part of a name, one page of 50) and the streamed CSV
export. Times are wall-clock (the import includes its fsynced commit); lookups are timed one
by one with ``time.perf_counter_ns``. Seeded: the same contacts and questions each run.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from firmware.contacts.csvfile import read_table
from firmware.contacts.directory import export_csv
from firmware.contacts.importer import MAX_IMPORT_BYTES, apply_import
from firmware.contacts.store import MAX_CONTACTS, ContactStore
from linebox import LineboxError
from linebox.bench.timing import print_json

ZONE = "us"
FIRST = ("Ann", "Bob", "Carmen", "Dmitri", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jamal", "Kim", "Luz")
LAST = ("Lee", "Díaz", "Okafor", "Novak", "Schmidt", "Rossi", "Tanaka", "Silva", "Moreau", "Nguyen")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("contacts", help="contact store: import 50,000 contacts, lookup by number")
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output)")
    parser.add_argument("--contacts", type=int, default=50_000, help="contacts in the CSV file (default 50,000)")
    parser.add_argument("--lookups", type=int, default=20_000, help="lookups by number timed (default 20,000)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--folder", help="where the temporary database goes (default: the system's temp folder)")
    parser.set_defaults(handler=run)


def _number(index: int) -> str:
    """A valid NANP number, distinct per index (area codes 212-219, exchanges 200-999)."""
    area, rest = 212 + index // 8_000_000, index % 8_000_000
    return f"{area}{200 + rest // 10_000:03d}{rest % 10_000:04d}"


def _written(number: str, rng: random.Random) -> str:
    forms = (f"({number[:3]}) {number[3:6]}-{number[6:]}", f"{number[:3]}.{number[3:6]}.{number[6:]}",
             f"+1 {number[:3]} {number[3:6]} {number[6:]}", f"1-{number[:3]}-{number[3:6]}-{number[6:]}", number)
    return rng.choice(forms)


def contacts_file(count: int, rng: random.Random) -> tuple[bytes, list[str]]:
    """The CSV bytes and every stored number (10 digits)."""
    lines = ["name,numbers,account,language,notes,plan"]
    numbers = []
    for index in range(count):
        mine = [_number(2 * index)] + ([_number(2 * index + 1)] if rng.random() < 0.3 else [])
        numbers += mine
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {index}"
        lines.append(f"{name},{'; '.join(_written(n, rng) for n in mine)},{100000 + index},"
                     f"{rng.choice(('en', 'es', ''))},,{rng.choice(('gold', 'silver', 'basic'))}")
    return ("\n".join(lines) + "\n").encode("utf-8"), numbers


def _percentiles_us(times_ns: list[int]) -> dict[str, float]:
    micro = np.array(times_ns) / 1000.0
    return {"p50_us": round(float(np.percentile(micro, 50)), 1), "p99_us": round(float(np.percentile(micro, 99)), 1),
            "max_us": round(float(micro.max()), 1)}


def measure(count: int, lookups: int, seed: int, folder: str | None = None) -> dict[str, object]:
    if not 1 <= count <= MAX_CONTACTS or lookups < 1:
        raise LineboxError(f"bench contacts: --contacts must be 1-{MAX_CONTACTS} and --lookups >= 1")
    rng = random.Random(seed)
    data, numbers = contacts_file(count, rng)
    if len(data) > MAX_IMPORT_BYTES:
        raise LineboxError(f"bench contacts: {count} contacts make a file above the import's {MAX_IMPORT_BYTES} bytes")
    with tempfile.TemporaryDirectory(prefix="linebox-bench-contacts-", dir=folder) as work:
        path = Path(work) / "linebox.db"
        with ContactStore(path) as store:
            began, cpu = time.perf_counter(), time.process_time()
            table = read_table(data, MAX_IMPORT_BYTES, MAX_CONTACTS)
            read_s = time.perf_counter() - began
            report = apply_import(store, table, ZONE)
            import_s, import_cpu_s = time.perf_counter() - began, time.process_time() - cpu
            # a second file of 1,000 new contacts into the full store: duplicates asked of the indexes
            more, _ = contacts_file(count + 1000, random.Random(seed))
            extra = read_table(b"\n".join([more.split(b"\n", 1)[0], *more.split(b"\n")[count + 1:]]),
                               MAX_IMPORT_BYTES, MAX_CONTACTS)
            began = time.perf_counter()
            added = apply_import(store, extra, ZONE).valid
            add_1000_s = time.perf_counter() - began
            if report.valid != count:
                raise LineboxError(f"bench contacts: {report.valid} of {count} contacts stored: {report.problems[:1]}")
            asked = [_written(rng.choice(numbers), rng) if rng.random() < 0.9 else f"310555{rng.randrange(10_000):04d}"
                     for _ in range(lookups)]  # area code 310: nobody's (the scene's are 212-219)
            by_number, found = [], 0
            for caller_id in asked:
                start = time.perf_counter_ns()
                contact = store.by_number(caller_id, ZONE)
                by_number.append(time.perf_counter_ns() - start)
                found += contact is not None and not caller_id.startswith("310")
            by_account = []
            for _ in range(min(lookups, 5000)):
                account = str(100000 + rng.randrange(count))
                start = time.perf_counter_ns()
                store.by_account(account)
                by_account.append(time.perf_counter_ns() - start)
            searches = []
            for _ in range(50):
                query = rng.choice(LAST).lower()[:4]
                start = time.perf_counter_ns()
                store.search(query, ZONE, rng.randrange(10) * 50, 50)
                searches.append(time.perf_counter_ns() - start)
            began = time.perf_counter()
            exported = sum(len(piece) for piece in export_csv(store))
            export_s = time.perf_counter() - began
        size = path.stat().st_size + sum(p.stat().st_size for p in Path(work).glob("linebox.db-*"))
    search_ms = np.array(searches) / 1e6
    return {
        "contacts": count, "numbers": len(numbers), "csv_bytes": len(data),
        "import_s": round(import_s, 3), "import_cpu_s": round(import_cpu_s, 3), "import_read_csv_s": round(read_s, 3),
        "import_contacts_per_s": round(count / import_s), "added_1000_to_full_store_s": round(add_1000_s, 3),
        "added": added,
        "lookups_by_number": lookups, "found": found,
        "lookup_by_number": _percentiles_us(by_number),
        "lookup_by_account": _percentiles_us(by_account),
        "search_page_p50_ms": round(float(np.percentile(search_ms, 50)), 2),
        "search_page_max_ms": round(float(search_ms.max()), 2),
        "export_s": round(export_s, 3), "export_bytes": exported,
        "database_bytes": size,
    }


def run(args: argparse.Namespace) -> int:
    print_json(measure(args.contacts, args.lookups, args.seed, args.folder))
    return 0
