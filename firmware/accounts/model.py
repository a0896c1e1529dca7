"""Accounts as values: roles, name and password rules, AMI permission classes, scrypt hashes.

Everything here is pure (no I/O, no clock): the store passes the present time in.

Passwords are hashed with scrypt (RFC 7914) and a random 16-byte salt per user; the cost
parameters are stored with the hash, so a later firmware can raise them and still check
old hashes. The default cost N=2**14, r=8, p=1 is RFC 7914 section 2's interactive-login
example (16 MiB of memory per check).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from firmware.accounts import AccountsError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
MAX_FAILED_LOGINS = 5          # failed logins in a row that lock an account ...
LOCKOUT_SECONDS = 5 * 60       # ... for this long (issues 13 and 18: 5 failures, 5 minutes)
SALT_BYTES = 16
HASH_BYTES = 32
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")

# Asterisk's manager permission classes (manager.c, perms[]); "all" stands for every one.
AMI_CLASSES = (
    "system", "call", "log", "verbose", "agent", "user", "config", "command", "dtmf", "reporting",
    "cdr", "dialplan", "originate", "all",
)

# Refused whatever their length: the most common passwords of public breach corpora that
# are at least MIN_PASSWORD_LENGTH long, plus the obvious ones for a PBX.
COMMON_PASSWORDS = frozenset({
    "1234567890", "0123456789", "0987654321", "1111111111", "0000000000", "1234512345",
    "123456789a", "a123456789", "qwertyuiop", "1q2w3e4r5t", "1qaz2wsx3edc", "qwerty1234",
    "qwerty12345", "password1", "password12", "password123", "password1234", "passw0rd123",
    "iloveyou123", "princess123", "football123", "baseball123", "superman123", "trustno1234",
    "administrator", "admin12345", "admin123456", "adminadmin", "changeme123", "letmein123",
    "welcome123", "welcome1234", "linebox123", "linebox1234", "lineboxadmin", "asterisk123",
    "manager123", "secret1234", "secretsecret", "abcdefghij", "abcd123456", "aaaaaaaaaa",
    "zaq12wsxcde", "mustang123", "dragon1234", "monkey1234", "sunshine123", "starwars123",
})


class Role(StrEnum):
    ADMIN = "admin"
    INSTALLER = "installer"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    MANAGER = "manager"       # an AMI client account (CRM, wallboard, click-to-call tool)


@dataclass(frozen=True)
class ScryptCost:
    """scrypt's cost parameters (RFC 7914 section 2)."""

    n: int = 2 ** 14
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or self.r < 1 or self.p < 1:
            raise AccountsError(f"scrypt cost: N must be a power of two > 1, r and p >= 1 (got {self})")


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created: float
    changed: float
    read: frozenset[str] = frozenset()
    write: frozenset[str] = frozenset()
    failed_logins: int = 0
    locked_until: float = 0.0
    md5_challenge: bool = False

    def locked(self, now: float) -> bool:
        return now < self.locked_until

    def may_read(self, ami_class: str) -> bool:
        return "all" in self.read or ami_class in self.read

    def may_write(self, ami_class: str) -> bool:
        return "all" in self.write or ami_class in self.write


def check_user_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise AccountsError(f"user name: expected a letter then up to 31 letters, digits, '_', '.', '-' "
                            f"(got {name!r})")
    return name


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountsError(f"role: expected one of {', '.join(r.value for r in Role)} (got {role!r})") from None


def check_password(name: str, password: str) -> str:
    """``password`` if the rules allow it for user ``name``; AccountsError (one line) if not."""
    if not isinstance(password, str):
        raise AccountsError("password: expected text")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountsError(f"password: must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters "
                            f"long (got {len(password)})")
    if not password.isprintable():
        raise AccountsError("password: must be printable (no control characters or line breaks)")
    if name.lower() in password.lower():
        raise AccountsError("password: must not contain the user name")
    if password.lower() in COMMON_PASSWORDS:
        raise AccountsError("password: too common, choose another")
    return password


def parse_classes(option: str, values: Iterable[str]) -> frozenset[str]:
    """AMI classes from ``values`` (each may be a comma list, as in manager.conf); ``all`` kept as is."""
    classes: set[str] = set()
    for value in values:
        for item in value.split(","):
            item = item.strip().lower()
            if not item:
                continue
            if item not in AMI_CLASSES:
                raise AccountsError(f"{option}: unknown class {item!r} (expected {', '.join(AMI_CLASSES)})")
            classes.add(item)
    return frozenset(classes)


def hash_password(password: str, salt: bytes, cost: ScryptCost) -> str:
    """``scrypt$N$r$p$salt$hash`` (hex), the text stored for a password."""
    digest = _scrypt(password, salt, cost)
    return f"scrypt${cost.n}${cost.r}${cost.p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        cost = ScryptCost(int(n), int(r), int(p))
        expected = bytes.fromhex(digest)
        computed = _scrypt(password, bytes.fromhex(salt), cost)
    except (ValueError, AccountsError):
        return False
    return hmac.compare_digest(computed, expected)


def _scrypt(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p,
                          maxmem=256 * cost.r * (cost.n + cost.p + 2), dklen=HASH_BYTES)
