"""The ``manager`` section applies live: a stored change starts, moves and stops the server
(on the storing thread), and a bad one is refused with nothing changed."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from manager_helpers import free_port, manager_box

from firmware import FirmwareError
from firmware.config import from_dict, to_dict


def greeting(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        return sock.recv(64)


def test_enable_move_and_disable_without_restart(tmp_path):
    with manager_box(tmp_path) as (app, _, service, port):
        assert greeting(port).startswith(b"Asterisk Call Manager/")
        moved = free_port()
        app.store.update(lambda c: replace(c, manager=replace(c.manager, listen=f"127.0.0.1:{moved}")))
        assert service.port == moved and greeting(moved).startswith(b"Asterisk Call Manager/")
        with pytest.raises(ConnectionRefusedError):
            greeting(port)
        app.store.update(lambda c: replace(c, manager=replace(c.manager, enabled=False)))
        assert service.server is None
        with pytest.raises(ConnectionRefusedError):
            greeting(moved)
        app.store.update(lambda c: replace(c, manager=replace(c.manager, enabled=True)))
        assert greeting(moved).startswith(b"Asterisk Call Manager/")


def test_a_bad_section_is_refused_and_changes_nothing(tmp_path):
    with manager_box(tmp_path) as (app, _, service, port):
        data = to_dict(app.store.load())
        data["manager"]["listen"] = "127.0.0.1:99999"
        with pytest.raises(FirmwareError, match="manager.listen: port must be 1-65535, got 99999"):
            app.store.update(lambda c: from_dict(data))
        assert service.port == port and app.store.load().manager.listen == f"127.0.0.1:{port}"
