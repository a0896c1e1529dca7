"""The last ``linebox doctor`` result, kept in the data folder for the dashboard.

``doctor.json`` beside the database: ``{"at": epoch seconds, "ok": bool, "checks": [{"name",
"ok", "detail"}]}``, written atomically (a temporary file in the same folder, fsync, rename,
fsync of the folder) so a power cut leaves the previous result or the new one, never half of
one. The web admin reads it with :func:`read_report`; a missing file is "never run", a damaged
one a one-line :class:`FirmwareError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from firmware import FirmwareError

REPORT_NAME = "doctor.json"
MAX_REPORT_BYTES = 256 * 1024  # a few dozen checks of a line each


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class DoctorReport:
    at: float  # epoch seconds when the doctor ran
    ok: bool
    checks: tuple[Check, ...]

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(check.name for check in self.checks if not check.ok)

    def document(self) -> dict:
        """The CLI's ``--json`` object (``{"ok", "checks"}``)."""
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}


def report_path(db_path: Path) -> Path:
    return db_path.parent / REPORT_NAME


def make_report(at: float, checks: list[Check] | tuple[Check, ...]) -> DoctorReport:
    return DoctorReport(at, all(check.ok for check in checks), tuple(checks))


def write_report(path: Path, report: DoctorReport) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as out:
        json.dump({"at": report.at, **report.document()}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_report(path: Path) -> DoctorReport | None:
    """The last result; None when the doctor never ran here."""
    try:
        with path.open("rb") as source:
            raw = source.read(MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FirmwareError(f"{path}: {exc.strerror}") from exc
    if len(raw) > MAX_REPORT_BYTES:
        raise FirmwareError(f"{path}: larger than {MAX_REPORT_BYTES} bytes")
    try:
        document = json.loads(raw)
        at, checks = document["at"], document["checks"]
        parsed = tuple(Check(str(item["name"]), item["ok"] is True, str(item["detail"])) for item in checks)
        if not isinstance(at, int | float) or isinstance(at, bool):
            raise TypeError("at")
    except (ValueError, KeyError, TypeError) as exc:
        raise FirmwareError(f"{path}: not a doctor result ({exc.__class__.__name__}: {exc})") from exc
    return make_report(float(at), parsed)
