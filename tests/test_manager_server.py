"""The manager server and its actions against a fake engine (fast): login (plain and MD5 challenge),
permission classes, Events masks, refusals in AMI's words, and the limits at the trust boundary
(clients, line sizes, actions per second, login timeout, a client that never reads)."""

from __future__ import annotations

import hashlib
import socket
import time
from types import SimpleNamespace

import pytest

from firmware.accounts import MAX_FAILED_LOGINS, AccountStore, ScryptCost
from firmware.manager.actions import Actions, AddressLockout, EngineSide
from firmware.manager.events import CALL, EventHub, event
from firmware.manager.protocol import GREETING, MAX_LINE_BYTES, BlockReader
from firmware.manager.server import ManagerServer

SECRET = "wallboard-and-tickets-42"
CHEAP = ScryptCost(n=16, r=1, p=1)


class FakeChannels:
    cc = SimpleNamespace(tick=0)

    def snapshot(self, tick):
        return []

    def call_count(self):
        return 0


@pytest.fixture
def accounts(tmp_path):
    with AccountStore(tmp_path / "db", cost=CHEAP) as store:
        store.add("crm", "manager", SECRET, 0.0, read=["call,system"], write=["call"], md5_challenge=True)
        store.add("panel", "manager", SECRET, 0.0, read=["agent"], write=[])
        store.add("boss", "admin", SECRET, 0.0)
        yield store


@pytest.fixture
def hub():
    return EventHub()


def serve(accounts, hub, **limits):
    engine = EngineSide(call=lambda fn: fn(), channels=FakeChannels(), queues=None, originator=None)
    actions = Actions(engine, accounts, time.time, AddressLockout())
    return ManagerServer("127.0.0.1:0", actions, hub, time.monotonic, **limits).start()


class Raw:
    """A plain socket client that reads blocks."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = BlockReader(max_line=10_000)
        self.blocks: list = []
        self.greeting = self._read_line()

    def _read_line(self) -> bytes:
        data = b""
        while not data.endswith(b"\r\n"):
            data += self.sock.recv(1)
        return data

    def send(self, *headers: tuple[str, str]) -> None:
        self.sock.sendall(("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode())

    def block(self):
        while not self.blocks:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.blocks += self.reader.feed(data)
        return self.blocks.pop(0)

    def act(self, *headers: tuple[str, str]):
        self.send(*headers)
        return self.block()

    def login(self, user="crm", secret=SECRET, **extra):
        return self.act(("Action", "Login"), ("Username", user), ("Secret", secret), *extra.items())


def test_greeting_login_ping_logoff(accounts, hub):
    with serve(accounts, hub) as server:
        client = Raw(server.port)
        assert client.greeting == GREETING
        denied = client.act(("Action", "Ping"), ("ActionID", "a1"))
        assert (denied.get("Response"), denied.get("Message"), denied.get("ActionID")) == (
            "Error", "Permission denied", "a1")
        ok = client.login(ActionID="a2")
        assert (ok.get("Response"), ok.get("Message"), ok.get("ActionID")) == (
            "Success", "Authentication accepted", "a2")
        booted = client.block()
        assert (booted.get("Event"), booted.get("Status")) == ("FullyBooted", "Fully Booted")
        pong = client.act(("Action", "ping"), ("ActionID", "a3"))
        assert pong.get("Ping") == "Pong" and pong.get("ActionID") == "a3"
        assert float(pong.get("Timestamp")) == pytest.approx(time.time(), abs=5)
        bye = client.act(("Action", "Logoff"))
        assert (bye.get("Response"), bye.get("Message")) == ("Goodbye", "Thanks for all the fish.")
        assert client.sock.recv(10) == b""


def test_logoff_before_login_closes(accounts, hub):
    with serve(accounts, hub) as server:
        client = Raw(server.port)
        assert client.act(("Action", "Logoff")).get("Response") == "Goodbye"
        assert client.sock.recv(10) == b""


def test_md5_challenge_login(accounts, hub):
    with serve(accounts, hub) as server:
        client = Raw(server.port)
        challenge = client.act(("Action", "Challenge"), ("AuthType", "MD5")).get("Challenge")
        assert len(challenge) == 9 and challenge.isdigit()
        key = hashlib.md5((challenge + SECRET).encode()).hexdigest()
        ok = client.act(("Action", "Login"), ("AuthType", "MD5"), ("Username", "crm"), ("Key", key))
        assert ok.get("Message") == "Authentication accepted"
        assert client.block().get("Event") == "FullyBooted"
        other = Raw(server.port)
        challenge = other.act(("Action", "Challenge"), ("AuthType", "MD5")).get("Challenge")
        wrong = hashlib.md5((challenge + "guess-guess-guess").encode()).hexdigest()
        refused = other.act(("Action", "Login"), ("AuthType", "MD5"), ("Username", "crm"), ("Key", wrong))
        assert refused.get("Message") == "Authentication failed"
        # a challenge serves one attempt: the right key for it is refused now
        right = hashlib.md5((challenge + SECRET).encode()).hexdigest()
        again = other.act(("Action", "Login"), ("AuthType", "MD5"), ("Username", "crm"), ("Key", right))
        assert again.get("Message") == "Authentication failed"
        assert other.act(("Action", "Challenge"), ("AuthType", "plain")).get("Message") == "Must specify AuthType"


def test_only_manager_accounts_log_in(accounts, hub):
    with serve(accounts, hub) as server:
        assert Raw(server.port).login("boss").get("Message") == "Authentication failed"
        assert Raw(server.port).login("nobody").get("Message") == "Authentication failed"


def test_address_lockout_across_account_names(accounts, hub):
    with serve(accounts, hub) as server:
        client = Raw(server.port)
        for index in range(MAX_FAILED_LOGINS):
            assert client.login(f"guess{index}").get("Response") == "Error"
        # a right secret from this address is refused now, though "panel" never failed
        assert client.login("panel").get("Message") == "Authentication failed"
        assert accounts.get("panel").failed_logins == 0


def test_permission_classes(accounts, hub):
    with serve(accounts, hub) as server:
        board = Raw(server.port)
        board.login("panel")
        for action in ("Hangup", "Originate", "QueuePause", "CoreShowChannels", "Status"):
            reply = board.act(("Action", action), ("ActionID", action))
            assert (reply.get("Response"), reply.get("Message"), reply.get("ActionID")) == (
                "Error", "Permission denied", action), action
        crm = Raw(server.port)
        crm.login()
        assert crm.block().get("Event") == "FullyBooted"
        listing = crm.act(("Action", "Status"), ("ActionID", "s"))
        assert listing.get("Message") == "Channel status will follow"
        complete = crm.block()
        assert (complete.get("Event"), complete.get("ActionID"), complete.get("ListItems")) == (
            "StatusComplete", "s", "0")
        assert crm.act(("Action", "Frobnicate")).get("Message") == "Invalid/unknown command"
        assert crm.act(("ActionID", "x")).get("Message") == "Missing action in request"


def test_events_follow_read_classes_and_masks(accounts, hub):
    with serve(accounts, hub) as server:
        crm, board, quiet = Raw(server.port), Raw(server.port), Raw(server.port)
        crm.login()
        board.login("panel")
        quiet.login(Events="off")
        booted = crm.block()
        assert booted.get("Event") == "FullyBooted" and booted.get("Privilege") == "system,all"
        hub.publish(event("Newchannel", CALL, [("Channel", "FXS/3-00000001")]))
        hub.publish(event("AgentCalled", "agent", [("Queue", "support")]))
        got = crm.block()
        assert (got.get("Event"), got.get("Privilege"), got.get("Channel")) == (
            "Newchannel", "call,all", "FXS/3-00000001")
        assert board.block().get("Event") == "AgentCalled"  # board reads agent, not call
        assert crm.act(("Action", "Events"), ("EventMask", "off")).get("Events") == "Off"
        hub.publish(event("Newchannel", CALL, [("Channel", "FXS/3-00000002")]))
        assert crm.act(("Action", "Ping")).get("Ping") == "Pong"  # no event came before the reply
        assert crm.act(("Action", "Events"), ("EventMask", "bogus")).get("Response") == "Error"
        assert quiet.act(("Action", "Ping")).get("Ping") == "Pong"


def test_bad_input_gets_one_line_errors_and_the_session_goes_on(accounts, hub):
    with serve(accounts, hub) as server:
        client = Raw(server.port)
        client.sock.sendall(b"Action: Ping\r\nActionID: 5\r\nData: " + b"x" * MAX_LINE_BYTES + b"\r\n\r\n")
        too_long = client.block()
        assert (too_long.get("Message"), too_long.get("ActionID")) == (
            f"Line too long (at most {MAX_LINE_BYTES} bytes)", "5")
        client.sock.sendall(b"garbage\r\n\r\n")
        assert client.block().get("Message") == "Malformed header (expected 'Key: Value')"
        assert client.login().get("Message") == "Authentication accepted"
        assert client.block().get("Event") == "FullyBooted"


def test_actions_per_second_limit(accounts, hub):
    with serve(accounts, hub, actions_per_second=5) as server:
        client = Raw(server.port)
        client.sock.sendall(b"".join(b"Action: Ping\r\nActionID: %d\r\n\r\n" % i for i in range(8)))
        replies = [client.block() for _ in range(8)]
        refused = [r for r in replies if r.get("Message", "").startswith("Too many actions")]
        assert len(refused) == 3 and refused[0].get("ActionID") == "5"


def test_max_clients_and_login_timeout(accounts, hub):
    with serve(accounts, hub, max_clients=2, auth_timeout_s=0.3) as server:
        first, second = Raw(server.port), Raw(server.port)
        third = Raw(server.port)
        assert third.block().get("Message") == "Too many manager clients (at most 2)"
        first.login()
        assert first.block().get("Event") == "FullyBooted"
        time.sleep(0.6)
        with pytest.raises(ConnectionError):
            second.block()  # not logged in in time: closed
        assert first.act(("Action", "Ping")).get("Ping") == "Pong"


def test_a_client_that_never_reads_is_dropped_and_never_slows_the_publisher(accounts, hub):
    with serve(accounts, hub, queue_events=100, write_timeout_s=0.5) as server:
        stuck = Raw(server.port)
        stuck.login()
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        payload = [("Channel", "FXS/3-00000001"), ("Padding", "p" * 900)]
        costs = []
        for _ in range(20_000):
            started = time.perf_counter()
            hub.publish(event("Newchannel", CALL, payload))
            costs.append(time.perf_counter() - started)
            if server.clients == 0:
                break
        deadline = time.monotonic() + 5
        while server.clients and time.monotonic() < deadline:
            hub.publish(event("Newchannel", CALL, payload))
            time.sleep(0.01)
        assert server.clients == 0
        # Publishing (what the media loop does) never waits for the client: a queue append (p99
        # under 1 ms). Waiting for the stuck socket would take the 0.5 s write timeout; the worst
        # case seen is the scheduler's on 2 shared cores (up to ~80 ms), so the bound is half that.
        costs.sort()
        assert costs[len(costs) * 99 // 100] < 0.001 and costs[-1] < 0.25, (costs[len(costs) // 2], costs[-1])


def test_every_action_is_logged_once_with_its_account_name_and_result(accounts, caplog):
    """Issue 18: every action logged with the account that made it — refusals, logins and
    actions before a login included (``-`` stands for no account)."""
    from firmware.manager.protocol import Block
    from firmware.manager.session import Session

    engine = EngineSide(call=lambda fn: fn(), channels=FakeChannels(), queues=None, originator=None)
    actions = Actions(engine, accounts, time.time, AddressLockout())
    session = Session(7, "127.0.0.9", 100)

    def act(**headers):
        actions.handle(session, Block(tuple(headers.items())))

    sent = [
        dict(Action="Ping"),  # before a login
        dict(Action="Login", Username="crm", Secret="wrong-secret-000"),
        dict(Action="Login", Username="crm", Secret=SECRET),
        dict(Action="Ping", ActionID="p1"),
        dict(Action="Originate", Channel="FXS/3", Exten="123"),  # crm may not originate
        dict(Action="NoSuchThing"),
        dict(Action="Status", Channel="FXS/9-00000001"),  # refused by the action itself
        dict(Action="Logoff"),
    ]
    with caplog.at_level("INFO"):
        for headers in sent:
            act(**headers)
    session.close()
    lines = [record.fields for record in caplog.records if record.getMessage() == "manager_action"]
    assert len(lines) == len(sent)
    expected = [("-", "Ping", "not logged in"), ("-", "Login", "authentication failed"),
                ("crm", "Login", "logged in"), ("crm", "Ping", "ok"),
                ("crm", "Originate", "permission denied"), ("crm", "NoSuchThing", "unknown"),
                ("crm", "Status", "No such channel"), ("crm", "Logoff", "goodbye")]
    got = [(fields["user"], fields["action"], fields["result"]) for fields in lines]
    assert got == expected
    assert all(fields["session"] == 7 and fields["address"] == "127.0.0.9" for fields in lines)
