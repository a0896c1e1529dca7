"""The account store (firmware.accounts) and ``linebox users``: rules, hashes, lockout, AMI classes."""

import hashlib
import io
import sqlite3

import pytest

from firmware import FirmwareError
from firmware.accounts import (
    LOCKOUT_SECONDS,
    MAX_FAILED_LOGINS,
    AccountsError,
    AccountStore,
    LoginRefused,
    Role,
    ScryptCost,
    check_password,
    parse_classes,
)
from firmware.accounts.model import MIN_PASSWORD_LENGTH, hash_password, verify_password
from linebox import cli
from linebox.commands import users as users_command

CHEAP = ScryptCost(n=16, r=1, p=1)   # the algorithm unchanged, the cost made test-sized
GOOD = "correct horse battery"
T0 = 1_800_000_000.0


@pytest.fixture
def store(tmp_path):
    with AccountStore(tmp_path / "box.db", cost=CHEAP) as accounts:
        yield accounts


def test_the_error_class_belongs_to_firmware():
    assert issubclass(AccountsError, FirmwareError) and issubclass(LoginRefused, AccountsError)


@pytest.mark.parametrize("name, password, error", [
    ("alice", "x" * (MIN_PASSWORD_LENGTH - 1), "must be 10 to 128 characters long (got 9)"),
    ("alice", "x" * 129, "must be 10 to 128 characters long (got 129)"),
    ("alice", "my-ALICE-is-long", "must not contain the user name"),
    ("alice", "Password123", "too common"),
    ("alice", "1234567890", "too common"),
    ("alice", "good\nsecret12", "must be printable"),
])
def test_password_rules_refuse_with_one_line(name, password, error):
    with pytest.raises(AccountsError) as caught:
        check_password(name, password)
    assert error in str(caught.value) and "\n" not in str(caught.value)


def test_password_rules_edges_accept():
    assert check_password("alice", "x" * MIN_PASSWORD_LENGTH) == "x" * 10
    assert check_password("alice", "y" * 128)


def test_scrypt_hash_has_per_user_salt_and_stored_cost():
    one = hash_password(GOOD, b"\1" * 16, CHEAP)
    two = hash_password(GOOD, b"\2" * 16, CHEAP)
    assert one != two and one.startswith("scrypt$16$1$1$")
    expected = hashlib.scrypt(GOOD.encode(), salt=b"\1" * 16, n=16, r=1, p=1, dklen=32).hex()
    assert one.endswith("$" + expected)
    assert verify_password(GOOD, one) and not verify_password(GOOD + "x", one)
    assert not verify_password(GOOD, "md5$abc") and not verify_password(GOOD, "garbage")


def test_default_cost_is_rfc7914_interactive():
    assert ScryptCost() == ScryptCost(n=2 ** 14, r=8, p=1)
    assert verify_password(GOOD, hash_password(GOOD, b"s" * 16, ScryptCost()))


def test_add_list_and_no_default_accounts(store):
    assert store.users() == []
    user = store.add("crm", "manager", GOOD, T0, read=["call,agent", "reporting"], write=["originate"])
    assert user.role is Role.MANAGER and user.read == {"call", "agent", "reporting"}
    assert user.write == {"originate"} and user.created == user.changed == T0
    assert user.may_read("agent") and not user.may_read("system") and not user.may_write("call")
    store.add("boss", "admin", GOOD, T0 + 1)
    assert [u.name for u in store.users()] == ["boss", "crm"]


def test_the_password_is_never_stored_in_clear(store, tmp_path):
    store.add("boss", "admin", GOOD, T0)
    dump = "\n".join(sqlite3.connect(tmp_path / "box.db").iterdump())
    assert GOOD not in dump and "scrypt$" in dump


@pytest.mark.parametrize("kwargs, error", [
    ({"name": "9lives"}, "user name"),
    ({"name": "a b"}, "user name"),
    ({"role": "root"}, "role: expected one of admin, installer, supervisor, agent, manager"),
    ({"read": ["call,bogus"]}, "--read: unknown class 'bogus'"),
    ({"role": "admin", "read": ["call"]}, "for role manager only"),
    ({"password": "short"}, "password: must be"),
])
def test_bad_add_changes_nothing(store, kwargs, error):
    args = {"name": "crm", "role": "manager", "password": GOOD, "now": T0, **kwargs}
    with pytest.raises(AccountsError, match=error):
        store.add(**args)
    assert store.users() == []


def test_duplicate_refused(store):
    store.add("crm", "manager", GOOD, T0)
    with pytest.raises(AccountsError, match="already exists"):
        store.add("crm", "agent", GOOD, T0)


def test_authenticate_and_lockout_edges(store):
    store.add("crm", "manager", GOOD, T0)
    assert store.authenticate("crm", GOOD, T0).name == "crm"
    for attempt in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginRefused, match="^Authentication failed$"):
            store.authenticate("crm", "wrong secret!", T0 + attempt)
    assert store.get("crm").failed_logins == MAX_FAILED_LOGINS - 1
    assert not store.get("crm").locked(T0 + 10)
    with pytest.raises(LoginRefused):
        store.authenticate("crm", "wrong secret!", T0 + 10)      # the 5th: locks
    locked = store.get("crm")
    assert locked.locked_until == T0 + 10 + LOCKOUT_SECONDS == T0 + 10 + 300
    with pytest.raises(LoginRefused, match="locked"):
        store.authenticate("crm", GOOD, T0 + 10 + LOCKOUT_SECONDS - 0.001)   # right secret, still locked
    assert store.authenticate("crm", GOOD, T0 + 10 + LOCKOUT_SECONDS).name == "crm"  # lock over at 5 min


def test_a_good_login_resets_the_count(store):
    store.add("crm", "manager", GOOD, T0)
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginRefused):
            store.authenticate("crm", "nope nope nope", T0)
    store.authenticate("crm", GOOD, T0)
    with pytest.raises(LoginRefused):
        store.authenticate("crm", "nope nope nope", T0)
    assert not store.get("crm").locked(T0)


def test_unlock_and_unknown_user(store):
    store.add("crm", "manager", GOOD, T0)
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(LoginRefused):
            store.authenticate("crm", "nope nope nope", T0)
    store.unlock("crm", T0 + 1)
    assert store.authenticate("crm", GOOD, T0 + 1)
    with pytest.raises(LoginRefused, match="^Authentication failed$"):
        store.authenticate("ghost", GOOD, T0)
    with pytest.raises(AccountsError, match="no such user"):
        store.unlock("ghost", T0)


def test_md5_challenge_only_for_accounts_that_opted_in(store, tmp_path):
    store.add("crm", "manager", GOOD, T0, md5_challenge=True)
    store.add("panel", "manager", GOOD, T0)
    key = hashlib.md5(("1234567" + GOOD).encode()).hexdigest()
    assert store.challenge_secret_matches("crm", "1234567", key, T0).name == "crm"
    with pytest.raises(LoginRefused):
        store.challenge_secret_matches("crm", "1234568", key, T0)
    with pytest.raises(LoginRefused):
        store.challenge_secret_matches("panel", "1234567", key, T0)
    assert store.get("crm").failed_logins == 1 and store.get("panel").failed_logins == 1


def test_passwd_permissions_delete(store):
    store.add("crm", "manager", GOOD, T0)
    store.set_password("crm", "another long one", T0 + 5)
    assert store.get("crm").changed == T0 + 5
    with pytest.raises(LoginRefused):
        store.authenticate("crm", GOOD, T0 + 6)
    with pytest.raises(AccountsError, match="password"):
        store.set_password("crm", "crm-is-my-password", T0)
    user = store.set_permissions("crm", ["all"], ["call"], T0 + 7)
    assert user.may_read("system") and user.may_write("call") and not user.may_write("system")
    store.delete("crm")
    assert store.get("crm") is None


def test_parse_classes():
    assert parse_classes("--read", ["call, agent", "", "ALL"]) == {"call", "agent", "all"}


def run_cli(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.setattr(users_command, "AccountStore", lambda path: AccountStore(path, cost=CHEAP))
    status = cli.main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_add_list_passwd_unlock_del(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "box.db")
    status, out, _ = run_cli(monkeypatch, capsys, ["users", "add", "crm", "--role", "manager", "--read",
                                                  "call,agent", "--write", "originate", "--db", db], GOOD + "\n")
    assert status == 0 and "user crm added" in out
    status, out, _ = run_cli(monkeypatch, capsys, ["users", "list", "--db", db])
    assert status == 0 and "crm" in out and "agent,call" in out and "originate" in out and GOOD not in out
    assert run_cli(monkeypatch, capsys, ["users", "passwd", "crm", "--db", db], "a whole new secret\n")[0] == 0
    assert run_cli(monkeypatch, capsys, ["users", "unlock", "crm", "--db", db])[0] == 0
    assert run_cli(monkeypatch, capsys, ["users", "del", "crm", "--db", db])[0] == 0
    status, out, _ = run_cli(monkeypatch, capsys, ["users", "list", "--db", db])
    assert "crm" not in out


@pytest.mark.parametrize("argv, stdin, error", [
    (["users", "add", "crm", "--role", "manager"], "", "secret: nothing on standard input"),
    (["users", "add", "crm", "--role", "manager"], "crm-secret-long\n", "must not contain the user name"),
    (["users", "passwd", "ghost"], GOOD + "\n", "no such user"),
    (["users", "del", "ghost"], "", "no such user"),
])
def test_cli_refusals_are_one_line(tmp_path, monkeypatch, capsys, argv, stdin, error):
    status, _, err = run_cli(monkeypatch, capsys, argv + ["--db", str(tmp_path / "box.db")], stdin)
    assert status == 2 and error in err and err.count("\n") == 1
