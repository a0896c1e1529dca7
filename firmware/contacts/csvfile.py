"""CSV files from outside (contacts, leads, do-not-call lists): the trust boundary, checked once.

:func:`read_table` takes the bytes of an uploaded or named file and returns its header and
rows, each with the line number it starts on (what a report shows the installer), or
refuses the whole file with one line:

- at most :data:`MAX_CSV_BYTES` (1 MiB) and :data:`MAX_ROWS` rows (or the caller's own
  limits: the contacts import takes more) of at most
  :data:`MAX_COLUMNS` columns and :data:`MAX_CELL_CHARS` characters a cell;
- the encoding: UTF-8 (a byte-order mark, as Excel writes it, is dropped), else Windows-1252
  (what Excel writes on a Western-European Windows; a superset of ISO 8859-1's printable
  characters); the report says which was used. Control characters other than tab and line
  ends are refused (a NUL is a binary file, not a CSV);
- the separator: a comma, or a semicolon when the header has semicolons and no commas (the
  spreadsheets of countries whose decimal mark is a comma), or a tab likewise; RFC 4180
  quoting;
- the header: column names are trimmed and lower-cased; an empty or repeated name is refused.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from firmware import FirmwareError

MAX_CSV_BYTES = 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 32
MAX_CELL_CHARS = 512
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class CsvRow:
    line: int
    """The line of the file the row starts on (the header is line 1)."""
    values: dict[str, str]
    """Column name -> the cell, trimmed; a short row's missing cells are ''."""


@dataclass(frozen=True)
class CsvTable:
    columns: tuple[str, ...]
    rows: tuple[CsvRow, ...]
    encoding: str
    """``utf-8`` or ``windows-1252``."""
    delimiter: str


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 with or without a byte-order mark, else Windows-1252."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("windows-1252"), "windows-1252"
    except UnicodeDecodeError as exc:
        raise FirmwareError(f"byte {exc.start + 1} is neither UTF-8 nor Windows-1252 text") from exc


def _delimiter(header: str) -> str:
    if "," in header:
        return ","
    if ";" in header:
        return ";"
    return "\t" if "\t" in header else ","


def read_table(data: bytes, max_bytes: int = MAX_CSV_BYTES, max_rows: int = MAX_ROWS) -> CsvTable:
    """The header and rows of a CSV file, or FirmwareError (one line) for a file that is not one.
    ``max_bytes``, ``max_rows``: a caller's own limits (the contacts import's are larger)."""
    if len(data) > max_bytes:
        raise FirmwareError(f"the file has more than {max_bytes} bytes (the limit)")
    text, encoding = decode(data)
    control = _CONTROL.search(text)
    if control:
        line = text.count("\n", 0, control.start()) + 1
        raise FirmwareError(f"line {line}: control character {control.group()!r}: not a CSV text file")
    if not text.strip():
        raise FirmwareError("the file is empty (a header line is needed)")
    delimiter = _delimiter(text.splitlines()[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
        columns = tuple(name.strip().lower() for name in header)
        if len(columns) > MAX_COLUMNS:
            raise FirmwareError(f"line 1: {len(columns)} columns, at most {MAX_COLUMNS}")
        for index, name in enumerate(columns):
            if not name:
                raise FirmwareError(f"line 1: column {index + 1} has no name")
            if columns.index(name) != index:
                raise FirmwareError(f"line 1: column {name!r} appears twice")
        rows = []
        start = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(rows) == max_rows:
                    raise FirmwareError(f"more than {max_rows} rows (the limit)")
                if len(cells) > len(columns):
                    raise FirmwareError(f"line {start}: {len(cells)} cells, the header has {len(columns)} columns")
                for cell in cells:
                    if len(cell) > MAX_CELL_CHARS:
                        raise FirmwareError(f"line {start}: a cell of {len(cell)} characters, at most "
                                            f"{MAX_CELL_CHARS}")
                values = {name: (cells[index].strip() if index < len(cells) else "")
                          for index, name in enumerate(columns)}
                rows.append(CsvRow(start, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FirmwareError(f"line {reader.line_num}: not valid CSV: {exc}") from exc
    return CsvTable(columns, tuple(rows), encoding, delimiter)


def write_table(columns: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    """CSV text (RFC 4180: comma, quotes where needed, CRLF line ends) of a header and rows.

    A cell starting with ``=``, ``+``, ``-`` or ``@`` could run as a formula in a spreadsheet
    (CSV injection); such cells get a leading apostrophe, except E.164 numbers (``+`` and
    digits), which a spreadsheet reads as numbers, not formulas."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_safe_cell(cell) for cell in row])
    return out.getvalue()


_E164_CELL = re.compile(r"\+[0-9]{1,15}(; \+[0-9]{1,15})*")


def _safe_cell(cell: str) -> str:
    if cell[:1] in ("=", "+", "-", "@") and not _E164_CELL.fullmatch(cell):
        return "'" + cell
    return cell
