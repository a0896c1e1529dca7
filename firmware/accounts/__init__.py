"""The box's account store: who may log in to the web admin and the manager interface.

One SQLite component (``accounts``) in the box's database, with its own migrations. Users
have a role, a scrypt password hash with a per-user salt, a lockout counter, and (manager
accounts) the AMI read/write permission classes. No account exists until an installer
makes one: there are no default passwords.
"""

from firmware import FirmwareError


class AccountsError(FirmwareError):
    """The error class of firmware.accounts: a refused name, role, password or login."""


class LoginRefused(AccountsError):
    """A login was refused (wrong secret, unknown user or locked); the message is safe to show."""


from firmware.accounts.model import (  # noqa: E402 (the error classes come first: model imports them)
    AMI_CLASSES,
    LOCKOUT_SECONDS,
    MAX_FAILED_LOGINS,
    Role,
    ScryptCost,
    User,
    check_password,
    check_user_name,
    parse_classes,
)
from firmware.accounts.store import AccountStore  # noqa: E402

__all__ = [
    "AMI_CLASSES", "LOCKOUT_SECONDS", "MAX_FAILED_LOGINS", "AccountStore", "AccountsError", "LoginRefused",
    "Role", "ScryptCost", "User", "check_password", "check_user_name", "parse_classes",
]
