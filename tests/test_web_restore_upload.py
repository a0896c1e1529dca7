"""A full backup's restore sent in chunks (webadmin/data.py: start, chunk, finish), so that the web
server's body limit stays the largest other page's; and that limit enforced by a real waitress
before the application sees the body (linebox/commands/web.py ``server_options``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import socket
import stat
import threading

import pytest
import waitress.server
from waitress import wasyncore

from firmware.media.uploads import MAX_MUSIC_BYTES
from firmware.storage.pending import PENDING_RESTORE, apply_pending, pending
from linebox.commands.web import CONNECTION_LIMIT, server_options
from tests.web_helpers import (
    PASSWORD,
    data_box,
    data_folder,
    extension_name,
    leftovers,
    login,
    renamed_extension,
    token_of,
)
from webadmin.admin import FORM_BACKUP_LIMIT_MB
from webadmin.app import MAX_REQUEST_BYTES, largest_upload
from webadmin.data import (
    BACKUP_UPLOAD_LIMIT,
    CHUNK_BYTES,
    FORM_BACKUP_LIMIT,
    FORM_SLACK,
    MB,
    RESTORE_STAGING,
    restore_needs,
    room_for_restore,
)
from webadmin.media import UPLOAD_SLACK
from webadmin.staging import STAGED_MAX_AGE_S


@pytest.fixture
def web(tmp_path):
    """The restore tests' box: an admin's client, a fake engine, a fake web restart."""
    with data_box(tmp_path / "data") as box:
        yield box


def _csrf(client) -> dict[str, str]:
    return {"X-CSRF-Token": token_of(client.get("/system"))}


def _start(client, size, **extra):
    return client.post("/api/restore/start", json={"size": size, "name": "linebox-backup.tar", **extra},
                       headers=_csrf(client))


def _chunk(client, upload, offset, data, headers=None):
    return client.post(f"/api/restore/chunk?upload={upload}&offset={offset}", data=data,
                       content_type="application/octet-stream", headers=headers or _csrf(client))


def _finish(client, upload):
    return client.post("/api/restore/finish", json={"upload": upload}, headers=_csrf(client))


def _send(client, payload: bytes, pieces=3, **extra) -> str:
    started = _start(client, len(payload), **extra)
    assert started.status_code == 200, started.get_data(as_text=True)
    upload = started.get_json()["upload"]
    assert started.get_json()["chunk_bytes"] == CHUNK_BYTES
    step = -(-len(payload) // pieces)
    for offset in range(0, len(payload), step):
        answer = _chunk(client, upload, offset, payload[offset:offset + step])
        assert answer.status_code == 200 and answer.get_json()["received"] == min(len(payload), offset + step)
    return upload


def _later(client, services, seconds: float) -> None:
    """Moves the clock on, with a page opened every 10 minutes (the session stays alive)."""
    end = services.clock.now + seconds
    while services.clock.now < end:
        services.clock.now = min(end, services.clock.now + 600)
        assert client.get("/system").status_code == 200


def _staged(services) -> list[str]:
    folder = services.data_dir / RESTORE_STAGING
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("declare_sha256", [False, True])
def test_a_backup_sent_in_chunks_is_restored_by_the_same_path(web, declare_sha256):
    client, services, restarts, _ = web
    payload = client.get("/system/backup.tar").get_data()
    assert len(payload) > 3
    renamed_extension(services, "Changed after the backup")
    extra = {"sha256": hashlib.sha256(payload).hexdigest()} if declare_sha256 else {}
    upload = _send(client, payload, **extra)
    folder = services.data_dir / RESTORE_STAGING
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / (upload + ".part")).st_mode) == 0o600
    done = _finish(client, upload)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["next"] == "/system" and "verified" in done.get_json()["done"]
    assert services.engine.commands[-1] == "engine restart" and restarts == ["web"]
    assert pending(services.store.path) == "restore" and leftovers(data_folder(services)) == [PENDING_RESTORE]
    assert _staged(services) == []  # the upload went on by a rename
    assert apply_pending(services.store.path, "2026-12-05T00:00:00+00:00").startswith("restored the backup made")
    assert extension_name(services.store.path) == "Sales"
    assert "verified" in client.get("/system").get_data(as_text=True)  # the flashed message on the page


def test_with_the_engine_stopped_the_chunked_restore_is_applied_at_once(web):
    client, services, restarts, _ = web
    payload = client.get("/system/backup.tar").get_data()
    renamed_extension(services, "Changed after the backup")
    services.engine.down = True
    done = _finish(client, _send(client, payload))
    assert done.status_code == 200 and "restored now" in done.get_json()["done"] and restarts == ["web"]
    assert extension_name(services.store.path) == "Sales" and pending(services.store.path) is None


@pytest.mark.parametrize("engine_runs", [True, False])
def test_a_factory_reset_drops_a_restore_sent_half_and_one_staged(web, engine_runs):
    """Uploads in progress and a staged restore are no data of the box: the reset drops them,
    and the staged restore is never applied over the reset box."""
    client, services, restarts, _ = web
    payload = client.get("/system/backup.tar").get_data()
    staged = _send(client, payload)  # a whole upload, finished: staged for the engine's start
    assert _finish(client, staged).status_code == 200 and pending(services.store.path) == "restore"
    half = _start(client, len(payload)).get_json()["upload"]  # another one, half sent
    assert _chunk(client, half, 0, payload[:len(payload) // 2]).status_code == 200
    services.engine.down = not engine_runs
    page = client.get("/system")
    response = client.post("/system/factory-reset", data={"csrf_token": token_of(page), "confirm": "reset"})
    assert response.status_code == 302
    if engine_runs:
        assert apply_pending(services.store.path, "2026-12-05T00:00:00+00:00").startswith("factory reset done")
    data = data_folder(services)
    assert [p.name for p in data.iterdir()] == ["factory-reset-1"] and pending(services.store.path) is None
    kept = data / "factory-reset-1"
    assert not (kept / "staging").exists() and not (kept / PENDING_RESTORE).exists()
    assert (kept / "backup.tar").is_file() and (kept / "linebox.db").is_file()


def test_chunks_out_of_order_oversized_or_past_the_size_are_refused(web):
    client, services, _, _ = web
    upload = _start(client, 100).get_json()["upload"]
    assert _chunk(client, upload, 0, b"a" * 40).get_json() == {"received": 40}
    for offset in (0, 39, 41, 80):
        refused = _chunk(client, upload, offset, b"b" * 10)
        assert refused.status_code == 409 and "out of order: 40 bytes received" in refused.get_json()["error"]
    past = _chunk(client, upload, 40, b"c" * 61)
    assert past.status_code == 409 and "past the declared size of 100 bytes" in past.get_json()["error"]
    assert _chunk(client, upload, 40, b"-1", headers=None).status_code == 200  # 42 now
    for offset in ("-1", "x", ""):
        assert _chunk(client, upload, offset, b"d").status_code == 400
    assert (services.data_dir / RESTORE_STAGING / (upload + ".part")).read_bytes() == b"a" * 40 + b"-1"
    big = _start(client, CHUNK_BYTES + 1).get_json()["upload"]
    assert _chunk(client, big, 0, b"e" * (CHUNK_BYTES + 1)).status_code == 413  # one chunk at most CHUNK_BYTES
    assert _chunk(client, big, 0, b"e" * CHUNK_BYTES).get_json() == {"received": CHUNK_BYTES}  # the edge
    incomplete = _finish(client, upload)  # a newer start replaced it: one upload per user
    assert incomplete.status_code == 400 and "no such upload" in incomplete.get_json()["error"]
    short = _finish(client, big)
    assert short.status_code == 400 and f"incomplete: {CHUNK_BYTES} of {CHUNK_BYTES + 1} bytes" in short.get_json()[
        "error"]
    assert pending(services.store.path) is None and leftovers(data_folder(services)) == []


def test_another_users_or_sessions_upload_is_refused(web):
    client, services, _, app = web
    services.accounts.add("bea", "admin", PASSWORD, 0.0)
    payload = client.get("/system/backup.tar").get_data()
    upload = _start(client, len(payload)).get_json()["upload"]
    assert _chunk(client, upload, 0, payload[:-10]).status_code == 200
    bea, ada_again = app.test_client(), app.test_client()
    login(bea, "bea")
    login(ada_again, "ada")  # the same user in another session
    for other in (bea, ada_again):
        chunk = _chunk(other, upload, len(payload) - 10, payload[-10:])
        assert chunk.status_code == 409 and "no such upload" in chunk.get_json()["error"]
        finish = _finish(other, upload)
        assert finish.status_code == 400 and "no such upload" in finish.get_json()["error"]
    installer = app.test_client()
    login(installer, "ian")
    assert _chunk(installer, upload, len(payload) - 10, payload[-10:]).status_code == 403  # not an admin's
    stranger = app.test_client()
    assert stranger.post(f"/api/restore/chunk?upload={upload}&offset=0", data=b"x").status_code == 400  # no CSRF
    token = token_of(stranger.get("/login"))
    assert _chunk(stranger, upload, 0, b"x", headers={"X-CSRF-Token": token}).status_code == 401
    no_csrf = client.post(f"/api/restore/chunk?upload={upload}&offset={len(payload) - 10}", data=payload[-10:])
    assert no_csrf.status_code == 400
    assert _chunk(client, upload, len(payload) - 10, payload[-10:]).status_code == 200  # still the owner's
    assert _finish(client, upload).status_code == 200 and pending(services.store.path) == "restore"


def test_an_expired_upload_is_refused_and_removed(web):
    client, services, _, _ = web
    upload = _start(client, 100).get_json()["upload"]
    _chunk(client, upload, 0, b"a" * 50)
    assert _staged(services) == sorted([upload + ".part", upload + ".staged"])
    _later(client, services, STAGED_MAX_AGE_S)  # the session stays alive; the upload does not
    assert _chunk(client, upload, 50, b"b" * 10).status_code == 200  # the edge: still there
    services.clock.now += 0.001
    refused = _chunk(client, upload, 60, b"c" * 40)
    assert refused.status_code == 409 and "no such upload" in refused.get_json()["error"]
    assert _staged(services) == []


def test_a_start_over_the_limit_or_without_room_on_the_card_is_refused(web):
    client, services, _, _ = web
    over = _start(client, BACKUP_UPLOAD_LIMIT + 1)
    assert over.status_code == 413 and f"more than the limit of {BACKUP_UPLOAD_LIMIT // MB} MB" in over.get_json()[
        "error"]
    for size in (0, -5, "12", True, 1.5, None):
        assert _start(client, size).status_code == 400
    assert _start(client, 10, sha256="ABC").status_code == 400
    assert client.post("/api/restore/start", data="[1]", content_type="application/json",
                       headers=_csrf(client)).status_code == 400
    config = services.store.load()
    retention = dataclasses.replace(config.retention, disk_budget_mb=1_048_576)  # 1 TB kept for the data to grow
    services.store.save(dataclasses.replace(config, retention=retention), source="test")
    no_room = _start(client, 1000)
    assert no_room.status_code == 507 and no_room.get_json()["error"].startswith("not enough room on the card")
    assert _staged(services) == []


def test_a_file_that_differs_from_its_declared_sha256_is_not_restored(web):
    client, services, _, _ = web
    payload = client.get("/system/backup.tar").get_data()
    upload = _send(client, payload, sha256=hashlib.sha256(payload + b"x").hexdigest())
    refused = _finish(client, upload)
    assert refused.status_code == 400 and "differs from the one sent (SHA-256)" in refused.get_json()["error"]
    assert pending(services.store.path) is None and leftovers(data_folder(services)) == [] and _staged(services) == []


def test_a_damaged_file_sent_in_chunks_is_refused_in_one_line(web):
    client, services, restarts, _ = web
    payload = client.get("/system/backup.tar").get_data()
    refused = _finish(client, _send(client, payload[:len(payload) // 2]))
    problem = refused.get_json()["error"]
    assert refused.status_code == 400 and problem.startswith("nothing was restored: backup:") and "\n" not in problem
    assert pending(services.store.path) is None and leftovers(data_folder(services)) == [] and restarts == []


@pytest.mark.parametrize(("free", "data", "budget", "room"), [
    (1000, 200, 500, 700),  # 300 kept for the data to grow into
    (1000, 500, 500, 1000),  # the data fill the budget: nothing more kept
    (1000, 800, 500, 1000),  # over the budget: nothing kept
    (100, 0, 500, -400),  # the budget's room is not even free
])
def test_room_for_a_restore(free, data, budget, room):
    assert room_for_restore(free, data, budget) == room


def test_a_restore_needs_twice_the_file():
    assert restore_needs(10 * MB) == 20 * MB


# ----------------------------------------------------------------------------- the web server's body limit

def test_the_body_limit_is_the_largest_page_in_one_request_not_the_full_backup(web):
    _, _, _, app = web
    limits = {endpoint: getattr(view, "upload_limit", 0) for endpoint, view in app.view_functions.items()}
    assert largest_upload(app) == MAX_MUSIC_BYTES + UPLOAD_SLACK == max(limits.values()) < BACKUP_UPLOAD_LIMIT
    assert limits["data.restore_chunk"] == CHUNK_BYTES and limits["data.restore_start"] == 0
    assert FORM_BACKUP_LIMIT + FORM_SLACK <= largest_upload(app) and FORM_BACKUP_LIMIT == FORM_BACKUP_LIMIT_MB * MB
    options = server_options(app)
    assert options["max_request_body_size"] == largest_upload(app) + 1
    assert options["connection_limit"] == CONNECTION_LIMIT
    # what strangers can make waitress spool at once, documented in docs/webadmin.md: about 1 GiB
    assert CONNECTION_LIMIT * options["max_request_body_size"] < 1.1 * 1024 * MB


@pytest.fixture
def served(web):
    """The app behind a real waitress with the options ``linebox web`` gives it, on a free port."""
    _, _, _, app = web
    sockets: dict = {}
    server = waitress.server.create_server(app, map=sockets, host="127.0.0.1", port=0, **server_options(app))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port, server_options(app)["max_request_body_size"]
    # closed from the server's own loop (its trigger): the loop ends when its socket map is empty
    server.trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
    thread.join(5)
    server.task_dispatcher.shutdown()
    assert not thread.is_alive()


def _exchange(port: int, head: bytes, body_bytes: int = 0, chunked: bool = False) -> bytes:
    """Sends a request (``body_bytes`` of body, streamed) and returns the reply's first bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head)
        piece = b"x" * (1024 * 1024)
        try:
            sent = 0
            while sent < body_bytes:
                size = min(len(piece), body_bytes - sent)
                connection.sendall((b"%x\r\n" % size + piece[:size] + b"\r\n") if chunked else piece[:size])
                sent += size
            if chunked:
                connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body: what is tested
        reply = b""
        while b"\r\n\r\n" not in reply:
            data = connection.recv(65536)
            if not data:
                break
            reply += data
        return reply


def test_a_login_post_over_the_servers_limit_is_refused_before_the_application(served):
    port, limit = served
    declared = (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: %d\r\n\r\n" % limit)
    reply = _exchange(port, declared)  # nothing of the body is sent: refused on the declared length
    assert reply.startswith(b"HTTP/1.1 413") and b"Server: linebox" in reply
    chunked = (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
    assert _exchange(port, chunked, limit + 1, chunked=True).startswith(b"HTTP/1.1 413")
    # one byte under the server's limit: the application answers (its own limit for a login form: 64 KiB)
    under = (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (limit - 1))
    reply = _exchange(port, under, limit - 1)
    assert reply.startswith(b"HTTP/1.1 413") and b"Content-Security-Policy" in reply  # Flask's page: our headers
    small = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (
        MAX_REQUEST_BYTES + 1)
    assert _exchange(port, small, MAX_REQUEST_BYTES + 1).startswith(b"HTTP/1.1 413")


def test_a_chunk_goes_through_the_real_server(served, web):
    port, _ = served
    client, services, _, _ = web
    # the session cookie and CSRF token of the test client's login, used over a real socket
    token = token_of(client.get("/system"))
    cookie = client.get_cookie("linebox_session").value
    start = json.dumps({"size": CHUNK_BYTES, "name": "b.tar"}).encode()
    head = (b"POST /api/restore/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-CSRF-Token: %s\r\n"
            b"Cookie: linebox_session=%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (token.encode(), cookie.encode(), len(start), start))
    reply = _exchange(port, head)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
    upload = [name for name in _staged(services) if name.endswith(".staged")][0][:-len(".staged")]
    head = (b"POST /api/restore/chunk?upload=%s&offset=0 HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream"
            b"\r\nX-CSRF-Token: %s\r\nCookie: linebox_session=%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (upload.encode(), token.encode(), cookie.encode(), CHUNK_BYTES))
    assert _exchange(port, head, CHUNK_BYTES).startswith(b"HTTP/1.1 200")
    assert (services.data_dir / RESTORE_STAGING / (upload + ".part")).stat().st_size == CHUNK_BYTES



def test_another_users_upload_under_way_keeps_the_room_it_still_needs(web):
    """Two admins restoring at once cannot both count on the same free space. The retention budget
    is set so that about 3 GiB may be used (the card's real free space, wide margins either way)."""
    client, services, _, app = web
    services.accounts.add("bea", "admin", PASSWORD, 0.0)
    bea = app.test_client()
    login(bea, "bea")
    free = shutil.disk_usage(services.data_dir).free
    if free < 4 * 1024 * MB:
        pytest.skip("needs 4 GiB free where the test's data are")
    config = services.store.load()
    budget_mb = min(1_048_576, (free - 3 * 1024 * MB) // MB)  # keeps all but ~3 GiB for the data to grow into
    services.store.save(dataclasses.replace(config, retention=dataclasses.replace(config.retention,
                                                                                  disk_budget_mb=budget_mb)),
                        source="test")
    gib = 1024 * MB  # needs 2 GiB to restore: one fits in 3, not two
    first = _start(bea, gib)
    assert first.status_code == 200
    assert _start(bea, gib).status_code == 200  # bea's own earlier upload is replaced, not counted
    refused = _start(client, gib)
    assert refused.status_code == 507 and "for another upload under way" in refused.get_json()["error"]
    bea_upload = _staged(services)[0][:-len(".staged")]
    assert _chunk(bea, bea_upload, 0, b"x" * 10).status_code == 200
    assert _finish(bea, bea_upload).status_code == 400  # incomplete: still under way, still counted
    assert _start(client, gib).status_code == 507
    _later(client, services, STAGED_MAX_AGE_S + 1)  # bea's upload expires
    assert _start(client, gib).status_code == 200
