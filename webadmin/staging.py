"""Uploads kept on the box between requests: a validation report and its confirmation (the
contacts CSV import), or a large file sent in pieces (a full backup's restore, webadmin/data.py).

The page carries only a random token; the file stays in a private folder under the data
directory: one file per staged upload, named by its token, mode 0600, in a folder of mode 0700.
The file begins with one JSON line (owner, session, file name, options, when staged), then the
upload's bytes. An upload sent in pieces (:meth:`StagingArea.begin`, :meth:`~StagingArea.append`)
declares its size in that line and keeps its bytes apart, in ``<token>.part`` (mode 0600), so
that the finished file is handed on by a rename (:meth:`~StagingArea.claim`), never copied. A
staged upload belongs to one user in one session: taking it with another user's or another
session's token, an unknown or malformed token, or after :data:`STAGED_MAX_AGE_S` from its start
fails alike (None). A user has at most one staged upload per area: staging another replaces it.
Expired files are removed whenever anything is staged or taken, when the web admin starts and
when the page that stages them is shown, so a forgotten upload leaves nothing behind for long.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from webadmin import WebAdminError

STAGED_MAX_AGE_S = 30 * 60  # a validation report left open longer than this must be uploaded again
TOKEN_BYTES = 24
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")  # token_urlsafe(24): 32 characters; checked before any path is made
_SUFFIX = ".staged"
_PART = ".part"  # the bytes of an upload sent in pieces
_MAX_HEADER_BYTES = 4096


@dataclass(frozen=True)
class Staged:
    token: str
    owner: str
    session: str
    filename: str
    options: dict[str, str]
    staged_at: float
    data: bytes
    size: int | None = None  # declared at the start of an upload sent in pieces; None: staged whole
    received: int = 0  # bytes of an upload sent in pieces received so far


class StagingArea:
    """The staged uploads of one kind (``folder``: e.g. ``<data>/staging/contacts``), each at most
    ``max_bytes``. Time is passed in (epoch seconds)."""

    def __init__(self, folder: Path, max_bytes: int, max_age_s: float = STAGED_MAX_AGE_S) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s

    def stage(self, owner: str, session: str, filename: str, options: dict[str, str], data: bytes,
              now: float) -> str:
        """Keeps ``data`` and returns its token; the owner's earlier staged upload is removed."""
        if len(data) > self.max_bytes:
            raise WebAdminError(f"the file is more than {self.max_bytes} bytes")
        return self._create(owner, session, filename, options, now, None, data)

    def begin(self, owner: str, session: str, filename: str, options: dict[str, str], size: int,
              now: float) -> str:
        """Starts an upload of ``size`` bytes sent in pieces (:meth:`append`); its token. The owner's
        earlier staged upload is removed."""
        if not 0 < size <= self.max_bytes:
            raise WebAdminError(f"the file's size must be 1 to {self.max_bytes} bytes (it is {size})")
        return self._create(owner, session, filename, options, now, size, b"")

    def append(self, token: str, owner: str, session: str, offset: int, data: bytes, now: float) -> int:
        """Adds the piece ``data`` at ``offset`` of this owner's upload; the bytes received so far.
        A piece out of order (``offset`` not the bytes received) or past the declared size raises
        WebAdminError and changes nothing; an unknown, expired or another's upload too."""
        staged = self.find(token, owner, session, now)
        if staged is None or staged.size is None:
            raise WebAdminError("no such upload (expired, finished or not yours): start again")
        try:
            handle = os.open(self._part(token), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise WebAdminError(f"cannot keep the upload in {self.folder}: {exc.strerror}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)  # two pieces sent at once: one waits, then fails its offset check
            received = os.fstat(handle).st_size
            if offset != received:
                raise WebAdminError(f"piece at byte {offset} out of order: {received} bytes received so far")
            if received + len(data) > staged.size:
                raise WebAdminError(f"the piece goes past the declared size of {staged.size} bytes")
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(handle, view):]
            except OSError as exc:
                os.ftruncate(handle, received)  # a piece is whole or not there
                raise WebAdminError(f"cannot keep the upload in {self.folder}: {exc.strerror}") from exc
            return received + len(data)
        finally:
            os.close(handle)

    def find(self, token: str, owner: str, session: str, now: float) -> Staged | None:
        """The upload of ``token`` without its bytes (``received`` counted) if it is this owner's, of
        this session and not expired; None otherwise."""
        self._sweep(now)
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return None
        staged = self._read(token, with_data=False)
        if staged is None or staged.owner != owner or staged.session != session:
            return None
        return staged

    def claim(self, token: str, owner: str, session: str, now: float, destination: Path) -> Staged:
        """Moves the whole bytes of this owner's upload sent in pieces to ``destination`` (a rename:
        the same file system) and forgets the upload. An incomplete, unknown, expired or another's
        upload raises WebAdminError (an incomplete one stays for the missing pieces)."""
        staged = self.find(token, owner, session, now)
        if staged is None or staged.size is None:
            raise WebAdminError("no such upload (expired, finished or not yours): start again")
        if staged.received != staged.size:
            raise WebAdminError(f"the upload is incomplete: {staged.received} of {staged.size} bytes received")
        os.replace(self._part(token), destination)
        self.discard(token)
        return staged

    def _create(self, owner: str, session: str, filename: str, options: dict[str, str], now: float,
                size: int | None, data: bytes) -> str:
        self._sweep(now, drop_owner=owner)
        fields: dict[str, object] = {"owner": owner, "session": session, "filename": filename, "options": options,
                                     "staged_at": now}
        if size is not None:
            fields["size"] = size
        header = json.dumps(fields).encode("utf-8")
        if len(header) >= _MAX_HEADER_BYTES:
            raise WebAdminError("the upload's name or options are too long")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        path = self._path(token)
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(header + b"\n")
                    file.write(data)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise WebAdminError(f"cannot keep the upload in {self.folder}: {exc.strerror}") from exc
        return token

    def take(self, token: str, owner: str, session: str, now: float) -> Staged | None:
        """The staged upload of ``token`` if it is this owner's, of this session, and not expired;
        None otherwise (the file stays: :meth:`discard` removes it)."""
        self._sweep(now)
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return None
        staged = self._read(token)
        if staged is None or staged.owner != owner or staged.session != session:
            return None
        return staged

    def discard(self, token: str) -> None:
        """Removes a staged upload (after its confirmation or cancellation)."""
        if _TOKEN.fullmatch(token):
            self._part(token).unlink(missing_ok=True)
            self._path(token).unlink(missing_ok=True)

    def sweep(self, now: float) -> None:
        """Removes the expired staged uploads (also done by :meth:`stage` and :meth:`take`)."""
        self._sweep(now)

    def uploads(self, now: float) -> list[Staged]:
        """Every staged upload that has not expired, without its bytes (``received`` counted)."""
        self._sweep(now)
        found = (self._read(token, with_data=False) for token in self.tokens())
        return [staged for staged in found if staged is not None]

    def tokens(self) -> list[str]:
        """The staged uploads' tokens (tests, diagnostics)."""
        if not self.folder.is_dir():
            return []
        return sorted(path.name[:-len(_SUFFIX)] for path in self.folder.glob("*" + _SUFFIX))

    def _path(self, token: str) -> Path:
        return self.folder / (token + _SUFFIX)

    def _part(self, token: str) -> Path:
        return self.folder / (token + _PART)

    def _read(self, token: str, with_data: bool = True) -> Staged | None:
        """The staged upload (only its header when not ``with_data``); None if gone or damaged."""
        try:
            with open(self._path(token), "rb") as file:
                line = file.readline(_MAX_HEADER_BYTES)
                data = file.read(self.max_bytes + 1) if with_data else b""
            header = json.loads(line)
            size = header.get("size")
            received = 0
            if size is not None:
                size = int(size)
                try:
                    received = self._part(token).stat().st_size
                except FileNotFoundError:
                    received = 0  # no piece yet
            return Staged(token, str(header["owner"]), str(header["session"]), str(header["filename"]),
                          {str(k): str(v) for k, v in dict(header["options"]).items()}, float(header["staged_at"]),
                          data, size, received)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.discard(token)  # damaged: nobody can confirm it
            return None

    def _sweep(self, now: float, drop_owner: str | None = None) -> None:
        """Removes the expired staged uploads (and ``drop_owner``'s, about to be replaced), and pieces
        left without their upload (a discard that crossed a piece being written)."""
        if self.folder.is_dir():
            for part in self.folder.glob("*" + _PART):
                if not self._path(part.name[:-len(_PART)]).exists():
                    part.unlink(missing_ok=True)
        for token in self.tokens():
            staged = self._read(token, with_data=False)
            if staged is None:
                continue
            if not 0 <= now - staged.staged_at <= self.max_age_s or staged.owner == drop_owner:
                self.discard(token)
