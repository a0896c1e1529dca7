"""``linebox users add|list|passwd|del|unlock``: the accounts of the web admin and the manager interface.

Secrets are never taken from the command line (they would show in ``ps`` and the shell
history): ``add`` and ``passwd`` read them from standard input, asking twice at a terminal
and reading one line otherwise (``echo ... | linebox users add``). The store is the box's
database (``--db PATH``, else ``$LINEBOX_DB``, else ``var/linebox.db``); see
:mod:`firmware.accounts` for the rules.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
import time
from typing import TextIO

from firmware.accounts import AccountsError, AccountStore, Role
from linebox.storage import resolve_db_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("users", help="web admin and manager (AMI) accounts")
    actions = parser.add_subparsers(dest="users_action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add a user (secret read from standard input)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--read", action="append", default=[], metavar="CLASSES",
                     help="manager only: AMI classes it may read, comma separated (e.g. call,agent)")
    add.add_argument("--write", action="append", default=[], metavar="CLASSES",
                     help="manager only: AMI classes it may act on (e.g. originate,agent)")
    add.add_argument("--md5-challenge", action="store_true",
                     help="manager only: allow AMI MD5 challenge logins (keeps the secret on the box)")
    add.set_defaults(handler=add_user)

    listing = actions.add_parser("list", help="list users")
    listing.set_defaults(handler=list_users)

    passwd = actions.add_parser("passwd", help="change a user's secret (read from standard input)")
    passwd.add_argument("name")
    passwd.set_defaults(handler=change_password)

    delete = actions.add_parser("del", help="delete a user")
    delete.add_argument("name")
    delete.set_defaults(handler=delete_user)

    unlock = actions.add_parser("unlock", help="clear a user's failed logins and lockout")
    unlock.add_argument("name")
    unlock.set_defaults(handler=unlock_user)

    for sub in (add, listing, passwd, delete, unlock):
        sub.add_argument("--db", help="database (default: $LINEBOX_DB or var/linebox.db)")


def read_secret(stream: TextIO | None = None) -> str:
    """The secret from a terminal (asked twice) or the first line of a pipe."""
    stream = stream or sys.stdin
    if stream.isatty():
        first = getpass.getpass("secret: ")
        if getpass.getpass("again: ") != first:
            raise AccountsError("secret: the two entries differ")
        return first
    line = stream.readline()
    if not line:
        raise AccountsError("secret: nothing on standard input")
    return line.rstrip("\r\n")


def _open(args: argparse.Namespace) -> AccountStore:
    return AccountStore(resolve_db_path(args.db))


def add_user(args: argparse.Namespace) -> int:
    secret = read_secret()
    with _open(args) as store:
        user = store.add(args.name, args.role, secret, time.time(), read=args.read, write=args.write,
                         md5_challenge=args.md5_challenge)
    print(f"user {user.name} added, role {user.role.value}")
    return 0


def list_users(args: argparse.Namespace) -> int:
    now = time.time()
    with _open(args) as store:
        users = store.users()
    print(f"{'name':<20} {'role':<11} {'read':<24} {'write':<24} {'changed':<20} state")
    for user in users:
        state = f"locked until {_utc(user.locked_until)}" if user.locked(now) else (
            f"{user.failed_logins} failed" if user.failed_logins else "ok")
        print(f"{user.name:<20} {user.role.value:<11} {','.join(sorted(user.read)) or '-':<24} "
              f"{','.join(sorted(user.write)) or '-':<24} {_utc(user.changed):<20} {state}")
    return 0


def change_password(args: argparse.Namespace) -> int:
    with _open(args) as store:
        store.require(args.name)
        store.set_password(args.name, read_secret(), time.time())
    print(f"user {args.name}: secret changed")
    return 0


def delete_user(args: argparse.Namespace) -> int:
    with _open(args) as store:
        store.delete(args.name)
    print(f"user {args.name} deleted")
    return 0


def unlock_user(args: argparse.Namespace) -> int:
    with _open(args) as store:
        store.unlock(args.name, time.time())
    print(f"user {args.name} unlocked")
    return 0


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
