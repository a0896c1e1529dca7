"""A lead list's hygiene before a campaign dials it, through the contacts module's rules.

The checks themselves are :func:`firmware.leads.check_leads` (valid numbers for the country,
duplicates in any written form, the do-not-call list); this module only reads the CSV files
and names the country as the numbering module's zone. The do-not-call numbers are those of a
DNC CSV, or the box's stored list (``firmware.leads.DncList``, E.164: what the campaigns
themselves filter their leads with), or both: ``linebox campaign check`` uses the stored list
when no ``--dnc`` file is given, the web admin's lead check always uses it.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from firmware import FirmwareError
from firmware.contacts.csvfile import CsvTable, read_table
from firmware.leads import check_leads, number_column
from firmware.numbers import ZONES

MAX_FILE_BYTES = 50 * 1024 * 1024  # a lead list of a few hundred thousand rows
_COUNTRY_ZONES = {"gb": "uk"}  # ISO 3166-1 alpha-2 where the zone's name differs


def zone_of_country(country: str) -> str:
    """The numbering zone of an ISO 3166-1 alpha-2 country code (``US`` → ``us``, ``GB`` → ``uk``)."""
    code = country.strip().lower() if isinstance(country, str) else ""
    zone = _COUNTRY_ZONES.get(code, code)
    if len(code) != 2 or zone not in ZONES:
        raise FirmwareError(f"country {country!r}: not one of the countries whose numbers the box knows "
                            f"({', '.join(z.upper() for z in ZONES)}; GB for the UK)")
    return zone


def _read(path: str | Path, what: str):
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FirmwareError(f"{what} {file}: {size} bytes, at most {MAX_FILE_BYTES}")
        return read_table(file.read_bytes())
    except OSError as exc:
        raise FirmwareError(f"{what} {file}: {exc.strerror or exc}") from exc


def check_files(leads_path: str | Path, country: str, dnc_path: str | Path | None = None,
                stored: Collection[str] = ()) -> dict[str, Any]:
    """The report of ``leads_path`` for ``country`` against the numbers of ``dnc_path`` and the
    ``stored`` do-not-call numbers (E.164, ``DncList.numbers()``):
    ``{"rows", "valid", "invalid", "duplicates", "dnc", "callable", "problems"}``."""
    zone_of_country(country)  # an unknown country is refused before any file is read
    dnc = _read(dnc_path, "do-not-call list") if dnc_path is not None else None
    return check_tables(_read(leads_path, "lead list"), country, dnc, stored)


def check_tables(leads: CsvTable, country: str, dnc: CsvTable | None = None,
                 stored: Collection[str] = ()) -> dict[str, Any]:
    """:func:`check_files` of tables already read (the web admin's uploads)."""
    zone = zone_of_country(country)
    numbers: list[str] = sorted(stored)  # E.164: read the same in any zone
    if dnc is not None:
        column = number_column(dnc.columns) if dnc.columns else "number"
        numbers += [row.values.get(column, "") for row in dnc.rows if row.values.get(column, "").strip()]
    return check_leads(leads.rows, zone, numbers).as_dict()
