"""The manager actions: permission classes, the replies in AMI's words, the engine calls.

:meth:`Actions.handle` takes one parsed block from a session and returns the bytes to send
back (a ``Response:`` block, and for list actions the events that follow, with the
action's ActionID on each). Refusals are ``Response: Error`` with a one-line ``Message:``;
nothing is changed by a refused action. Everything that reads or changes the engine runs
on the media loop's thread through the gateway (``firmware/console/gateway.py``), within
its timeout; a slow engine makes this client wait, never the loop.

Permissions are Asterisk's: an action needs one of its classes among the account's
*write* classes (manager.c: ``writeperm & authority``); events need their class among the
account's *read* classes and the session's ``Events`` mask.

Logins: plain ``Secret`` or the MD5 challenge (``Challenge`` then ``AuthType: MD5`` and
``Key`` = md5(challenge + secret)), checked by the account store, which counts failures and
locks the account (5 failures, 5 minutes: firmware/accounts). Failures are also counted
per client address (:class:`AddressLockout`), so a client cannot try one secret on every
account name.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.logs import EventLogger
from dsp.callerid import CallerId
from firmware import FirmwareError
from firmware.accounts import LOCKOUT_SECONDS, MAX_FAILED_LOGINS, AccountStore, LoginRefused, Role
from firmware.manager import ManagerError
from firmware.manager.channels import ChannelObserver
from firmware.manager.events import SYSTEM, event
from firmware.manager.originate import Originator
from firmware.manager.protocol import AMI_VERSION, BadBlock, Block, error, response
from firmware.manager.queues import QueueBridge
from firmware.manager.redirect import redirect, target
from firmware.manager.session import Session, parse_event_mask

MAX_ORIGINATE_TIMEOUT_MS = 120_000
DEFAULT_ORIGINATE_TIMEOUT_MS = 30_000  # Asterisk's default Originate timeout
SYSTEM_NAME = "linebox"


@dataclass
class Reply:
    chunks: list[bytes] = field(default_factory=list)
    close: bool = False


@dataclass
class EngineSide:
    """What the actions use of the running engine (the composition root fills it in)."""

    call: Callable[[Callable[[], Any]], Any]  # runs a function on the loop's thread (EngineGateway.call)
    channels: ChannelObserver
    queues: QueueBridge
    originator: Originator
    started: float = 0.0  # epoch seconds of the start, for CoreStatus
    show: Callable[[str], list[str]] | None = None  # the console's read-only ``show`` commands


class AddressLockout:
    """Failed logins per client address: the account store's rule (5 failures, 5 minutes) per address."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # address -> (failures, locked until)

    def locked(self, address: str, now: float) -> bool:
        with self._lock:
            _, until = self._failures.get(address, (0, 0.0))
            return now < until

    def failed(self, address: str, now: float) -> None:
        with self._lock:
            count, until = self._failures.get(address, (0, 0.0))
            count += 1
            if count >= MAX_FAILED_LOGINS:
                self._failures[address] = (0, now + LOCKOUT_SECONDS)
            else:
                self._failures[address] = (count, until)
            if len(self._failures) > 4096:  # bounded: forget addresses that are not locked
                for key in [k for k, (_, u) in self._failures.items() if u <= now][:1024]:
                    del self._failures[key]

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)


# action name (lower case) -> the classes that allow it (empty: any logged-in session)
PERMISSIONS: dict[str, frozenset[str]] = {
    "ping": frozenset(), "logoff": frozenset(), "events": frozenset(), "challenge": frozenset(),
    "coresettings": frozenset({"system", "reporting"}), "corestatus": frozenset({"system", "reporting"}),
    "coreshowchannels": frozenset({"system", "reporting"}), "status": frozenset({"system", "call", "reporting"}),
    "hangup": frozenset({"system", "call"}), "originate": frozenset({"originate"}),
    "redirect": frozenset({"call"}),
    "queuestatus": frozenset(), "queuesummary": frozenset(),
    "queueadd": frozenset({"agent"}), "queueremove": frozenset({"agent"}), "queuepause": frozenset({"agent"}),
    "queuelog": frozenset({"agent"}), "command": frozenset({"command"}),
}


def _true(text: str) -> bool:
    return text.strip().lower() in ("true", "yes", "1", "on")


def _duration(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Actions:
    def __init__(self, engine: EngineSide, accounts: AccountStore, wall: Callable[[], float],
                 lockout: AddressLockout | None = None, log: EventLogger | None = None) -> None:
        self.engine = engine
        self.accounts = accounts
        self.wall = wall  # epoch seconds: logins (lockout times) and Ping's Timestamp
        self.lockout = lockout or AddressLockout()
        self.log = log or EventLogger("manager")

    # ------------------------------------------------------------------ entry
    def handle(self, session: Session, block: Block | BadBlock) -> Reply:
        """The reply to one block; every block is logged once: ``manager_action`` with the
        session, the account (``-`` before a login), the action and its result."""
        reply, result = self._dispatch(session, block)
        user = session.user.name if session.user is not None else "-"
        action = block.get("Action") if isinstance(block, Block) else ""
        level = self.log.info if result in ("ok", "logged in", "goodbye") else self.log.warning
        level("manager_action", session=session.number, address=session.address, user=user,
              action=action or "-", result=result)
        return reply

    def _dispatch(self, session: Session, block: Block | BadBlock) -> tuple[Reply, str]:
        if isinstance(block, BadBlock):
            return Reply([error(block.reason, block.action_id)]), block.reason
        action_id = block.get("ActionID")
        name = block.get("Action")
        if not name:
            return Reply([error("Missing action in request", action_id)]), "missing action"
        key = name.lower()
        if key == "login":
            chunks = self._login(session, block, action_id)
            return Reply(chunks), "logged in" if session.logged_in else "authentication failed"
        if key == "challenge":
            return Reply([self._challenge(session, block, action_id)]), "ok"
        if key == "logoff":  # allowed before a login too, as in Asterisk (manager.c)
            return self._logoff(session, block, action_id), "goodbye"
        if not session.logged_in:
            return Reply([error("Permission denied", action_id)]), "not logged in"
        handler = getattr(self, f"_{key}", None)
        if key not in PERMISSIONS or handler is None:
            return Reply([error("Invalid/unknown command", action_id)]), "unknown"
        needed = PERMISSIONS[key]
        if needed and not any(session.user.may_write(each) for each in needed):
            return Reply([error("Permission denied", action_id)]), "permission denied"
        try:
            reply = handler(session, block, action_id)
        except ManagerError as exc:
            return Reply([error(str(exc), action_id)]), str(exc)
        except FirmwareError as exc:  # the engine refused (or the gateway timed out): nothing was done
            return Reply([error(str(exc), action_id)]), str(exc)
        return reply, "ok"

    # ------------------------------------------------------------------ login
    def _challenge(self, session: Session, block: Block, action_id: str) -> bytes:
        if block.get("AuthType").lower() != "md5":
            return error("Must specify AuthType", action_id)
        session.challenge = f"{secrets.randbelow(10 ** 9):09d}"
        return response("Success", action_id, fields=[("Challenge", session.challenge)])

    def _login(self, session: Session, block: Block, action_id: str) -> list[bytes]:
        if session.logged_in:
            return [response("Success", action_id, "Already authenticated")]
        now = self.wall()
        username = block.get("Username")
        if self.lockout.locked(session.address, now):
            self.log.warning("manager_login_refused", session=session.number, address=session.address,
                             user=username, reason="address locked")
            return [error("Authentication failed", action_id)]
        mask = parse_event_mask(block.get("Events", "on"))
        if mask is None:
            return [error(f"Events: unknown class in {block.get('Events')!r}", action_id)]
        try:
            if block.get("AuthType").lower() == "md5":
                if not session.challenge:
                    raise LoginRefused("Authentication failed")
                user = self.accounts.challenge_secret_matches(username, session.challenge, block.get("Key"), now)
            else:
                user = self.accounts.authenticate(username, block.get("Secret"), now)
            if user.role is not Role.MANAGER:
                raise LoginRefused("Authentication failed")
        except LoginRefused as exc:
            self.lockout.failed(session.address, now)
            self.log.warning("manager_login_refused", session=session.number, address=session.address,
                             user=username, reason=str(exc))
            return [error("Authentication failed", action_id)]
        finally:
            session.challenge = ""  # a challenge serves one attempt
        self.lockout.succeeded(session.address)
        session.mask = mask
        session.user = user
        self.log.info("manager_login", session=session.number, address=session.address, user=user.name)
        booted = event("FullyBooted", SYSTEM, [("Status", "Fully Booted"), ("Uptime", 0), ("LastReload", 0)])
        chunks = [response("Success", action_id, "Authentication accepted")]
        if user.may_read(SYSTEM) and SYSTEM in mask:
            chunks.append(booted.encode())
        return chunks

    # ------------------------------------------------------------------ session
    def _logoff(self, session: Session, block: Block, action_id: str) -> Reply:
        return Reply([response("Goodbye", action_id, "Thanks for all the fish.")], close=True)

    def _ping(self, session: Session, block: Block, action_id: str) -> Reply:
        return Reply([response("Success", action_id, fields=[("Ping", "Pong"),
                                                             ("Timestamp", f"{self.wall():.6f}")])])

    def _events(self, session: Session, block: Block, action_id: str) -> Reply:
        mask = parse_event_mask(block.get("EventMask"))
        if mask is None:
            raise ManagerError(f"EventMask: unknown class in {block.get('EventMask')!r}")
        session.mask = mask
        return Reply([response("Success", action_id, fields=[("Events", "On" if mask else "Off")])])

    # ------------------------------------------------------------------ system
    def _coresettings(self, session: Session, block: Block, action_id: str) -> Reply:
        return Reply([response("Success", action_id, fields=[
            ("AMIversion", AMI_VERSION), ("AsteriskVersion", "linebox"),
            ("SystemName", SYSTEM_NAME), ("CoreMaxCalls", 0), ("CoreMaxLoadAvg", 0.0), ("CoreRunUser", ""),
            ("CoreRunGroup", ""), ("CoreMaxFilehandles", 0), ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"), ("CoreHTTPenabled", "No")])])

    def _corestatus(self, session: Session, block: Block, action_id: str) -> Reply:
        calls = self.engine.call(self.engine.channels.call_count)
        started = dt.datetime.fromtimestamp(self.engine.started, dt.UTC)
        return Reply([response("Success", action_id, fields=[
            ("CoreStartupDate", started.strftime("%Y-%m-%d")), ("CoreStartupTime", started.strftime("%H:%M:%S")),
            ("CoreReloadDate", started.strftime("%Y-%m-%d")), ("CoreReloadTime", started.strftime("%H:%M:%S")),
            ("CoreCurrentCalls", calls)])])

    # ------------------------------------------------------------------ channels
    def _channel_rows(self) -> list[dict[str, Any]]:
        channels = self.engine.channels
        return self.engine.call(lambda: channels.snapshot(channels.cc.tick))

    def _coreshowchannels(self, session: Session, block: Block, action_id: str) -> Reply:
        rows = self._channel_rows()
        chunks = [response("Success", action_id, "Channels will follow", [("EventList", "start")])]
        for row in rows:
            chunks.append(event("CoreShowChannel", "call", [
                *row["fields"], ("BridgeId", ""), ("Application", row["application"]), ("ApplicationData", ""),
                ("Duration", _duration(row["seconds"])), ("BridgedChannel", row["bridged"])],
                action_id=action_id).encode())
        chunks.append(event("CoreShowChannelsComplete", "call", [("EventList", "Complete"),
                                                                 ("ListItems", len(rows))],
                            action_id=action_id).encode())
        return Reply(chunks)

    def _status(self, session: Session, block: Block, action_id: str) -> Reply:
        wanted = block.get("Channel")
        rows = [row for row in self._channel_rows() if not wanted or dict(row["fields"])["Channel"] == wanted]
        if wanted and not rows:
            raise ManagerError("No such channel")
        chunks = [response("Success", action_id, "Channel status will follow", [("EventList", "start")])]
        for row in rows:
            chunks.append(event("Status", "call", [
                *row["fields"], ("Type", dict(row["fields"])["Channel"].split("/")[0]), ("DNID", ""),
                ("EffectiveConnectedLineNum", dict(row["fields"])["ConnectedLineNum"]),
                ("TimeToHangup", 0), ("BridgeID", ""), ("Application", row["application"]), ("Data", ""),
                ("Nativeformats", "(ulaw)"), ("Readformat", "slin"), ("Writeformat", "slin"),
                ("Callgroup", 0), ("Pickupgroup", 0), ("Seconds", row["seconds"])], action_id=action_id).encode())
        chunks.append(event("StatusComplete", "call", [("EventList", "Complete"), ("ListItems", len(rows)),
                                                       ("Items", len(rows))], action_id=action_id).encode())
        return Reply(chunks)

    def _hangup(self, session: Session, block: Block, action_id: str) -> Reply:
        name = block.get("Channel")
        if not name:
            raise ManagerError("No channel specified")
        channels = self.engine.channels

        def hang_up() -> None:
            channel = channels.by_name(name)
            if channel is None:
                raise ManagerError("No such channel")
            channels.cc.end_service_call(channel.call, "manager_hangup")

        self.engine.call(hang_up)
        return Reply([response("Success", action_id, "Channel Hungup")])

    def _redirect(self, session: Session, block: Block, action_id: str) -> Reply:
        """A caller's line sent to another extension, ring group, queue, IVR flow or mailbox (redirect.py)."""
        name = block.get("Channel")
        if not name:
            raise ManagerError("Channel not specified")
        if block.get("ExtraChannel"):
            raise ManagerError("Redirect: ExtraChannel is not supported (one line at a time)")
        channels = self.engine.channels

        def move() -> None:
            channel = channels.by_name(name)
            if channel is None:
                raise ManagerError("No such channel")
            redirect(channels.cc, channel, target(channels.cc.config, block.get("Exten"), block.get("Context")))

        self.engine.call(move)
        return Reply([response("Success", action_id, "Redirect successful")])

    def _originate(self, session: Session, block: Block, action_id: str) -> Reply:
        port = self._originating_port(block.get("Channel"))
        digits = block.get("Exten")
        if block.get("Application"):
            raise ManagerError("Originate: Application is not supported (give Exten: the number to dial)")
        timeout_text = block.get("Timeout", str(DEFAULT_ORIGINATE_TIMEOUT_MS))
        if not timeout_text.isdigit() or not 1000 <= int(timeout_text) <= MAX_ORIGINATE_TIMEOUT_MS:
            raise ManagerError(f"Timeout: expected 1000-{MAX_ORIGINATE_TIMEOUT_MS} ms, got {timeout_text!r}")
        caller = _caller_id(block.get("CallerID"))
        # Without Async the reply waits for the outcome: the OriginateResponse the session would
        # have been sent is taken by the session for this wait (session.py), under this key.
        wait_key = action_id or f"sync-{id(block)}"
        wait = None if _true(block.get("Async")) else session.wait_for(wait_key)
        originator = self.engine.originator
        try:
            self.engine.call(lambda: originator.start(port, digits, caller, int(timeout_text) / 1000.0,
                                                      action_id if wait is None else wait_key, session.number))
        except FirmwareError:
            session.forget(wait_key)
            raise
        if wait is None:
            return Reply([response("Success", action_id, "Originate successfully queued")])
        if not wait.done.wait(int(timeout_text) / 1000.0 + 5.0) or wait.outcome is None:
            session.forget(wait_key)
            raise ManagerError("Originate failed")
        if wait.outcome.get("Response") != "Success":
            raise ManagerError("Originate failed")
        return Reply([response("Success", action_id, "Originate successfully queued")])

    @staticmethod
    def _originating_port(channel: str) -> int:
        """The port of ``FXS/<port>`` (a channel name's ``-sequence`` is ignored): the extension's phone."""
        kind, _, rest = channel.partition("/")
        if kind.upper() == "FXS" and rest.split("-")[0].isdigit():
            return int(rest.split("-")[0])
        raise ManagerError(f"Channel {channel!r}: expected FXS/<port> (the extension's phone)")

    def _command(self, session: Session, block: Block, action_id: str) -> Reply:
        """The technician console's read-only ``show`` commands (docs/console.md), nothing else."""
        line = block.get("Command")
        words = line.split()
        if not words or words[0].lower() != "show" or self.engine.show is None:
            raise ManagerError("Command: only the console's show commands are allowed (e.g. show calls)")
        lines = self.engine.show(" ".join(words))
        return Reply([response("Success", action_id, "Command output follows",
                               [("Output", text) for each in lines for text in each.split("\n")])])

    # ------------------------------------------------------------------ queues
    def _queue_list(self, action_id: str, started: str, rows: list, complete: str) -> Reply:
        chunks = [response("Success", action_id, started, [("EventList", "start")])]
        chunks += [event(name, "agent", fields, action_id=action_id).encode() for name, fields in rows]
        chunks.append(event(complete, "agent", [("EventList", "Complete"), ("ListItems", len(rows))],
                            action_id=action_id).encode())
        return Reply(chunks)

    def _queuestatus(self, session: Session, block: Block, action_id: str) -> Reply:
        queues = self.engine.queues
        rows = self.engine.call(lambda: queues.status(block.get("Queue"), block.get("Member"),
                                                      queues.channels.cc.epoch(queues.channels.cc.tick)))
        return self._queue_list(action_id, "Queue status will follow", rows, "QueueStatusComplete")

    def _queuesummary(self, session: Session, block: Block, action_id: str) -> Reply:
        queues = self.engine.queues
        rows = self.engine.call(lambda: queues.summary(block.get("Queue"),
                                                       queues.channels.cc.epoch(queues.channels.cc.tick)))
        return self._queue_list(action_id, "Queue summary will follow", rows, "QueueSummaryComplete")

    def _queueadd(self, session: Session, block: Block, action_id: str) -> Reply:
        queues = self.engine.queues
        interface, paused = block.get("Interface"), _true(block.get("Paused"))
        if not interface:
            raise ManagerError("'Interface' not specified.")
        self.engine.call(lambda: queues.add(block.get("Queue"), interface, block.get("StateInterface"), paused,
                                            queues.channels.cc.epoch(queues.channels.cc.tick)))
        return Reply([response("Success", action_id, "Added interface to queue")])

    def _queueremove(self, session: Session, block: Block, action_id: str) -> Reply:
        queues = self.engine.queues
        interface = block.get("Interface")
        if not interface:
            raise ManagerError("Need 'Queue' and 'Interface' parameters.")
        self.engine.call(lambda: queues.remove(block.get("Queue"), interface))
        return Reply([response("Success", action_id, "Removed interface from queue")])

    def _queuelog(self, session: Session, block: Block, action_id: str) -> Reply:
        queues = self.engine.queues
        values = {key: _queue_log_text(key, block.get(key))
                  for key in ("Queue", "Event", "Uniqueid", "Interface", "Message")}
        self.engine.call(lambda: queues.write_log(values["Queue"], values["Event"], values["Uniqueid"],
                                                  values["Interface"], values["Message"],
                                                  queues.channels.cc.epoch(queues.channels.cc.tick)))
        return Reply([response("Success", action_id, "Added Queue Log")])

    def _queuepause(self, session: Session, block: Block, action_id: str) -> Reply:
        queues = self.engine.queues
        interface, paused_text = block.get("Interface"), block.get("Paused")
        if not interface or not paused_text:
            raise ManagerError("Need 'Interface' and 'Paused' parameters.")
        paused = _true(paused_text)
        reason = block.get("Reason")
        if len(reason) > 40:
            raise ManagerError("Reason: at most 40 characters")
        self.engine.call(lambda: queues.pause(block.get("Queue"), interface, paused, reason,
                                              queues.channels.cc.epoch(queues.channels.cc.tick)))
        return Reply([response("Success", action_id,
                               "Interface paused successfully" if paused else "Interface unpaused successfully")])


def _queue_log_text(name: str, value: str) -> str:
    if "|" in value or len(value) > 200:
        raise ManagerError(f"{name}: at most 200 characters, no '|'")
    return value


def _caller_id(text: str) -> CallerId:
    """``"Name" <number>`` or a bare number, as Asterisk's CallerID header; shown on the phone."""
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, number = text[:-1].partition("<")
        name, number = name.strip().strip('"'), number.strip()
    else:
        name, number = "", text
    if number and not number.replace("+", "").isdigit():
        raise ManagerError(f"CallerID {text!r}: expected \"Name\" <number> or a number")
    return CallerId(number=number[:20] or None, name=name[:15] or "Click to call")
