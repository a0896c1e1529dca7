"""Staged uploads (webadmin/staging.py) on their own: private files named by a random token,
the size limit, one per owner, expiry (edges), tokens that are not ours, damaged files."""

from __future__ import annotations

import os
import stat

import pytest

from webadmin import WebAdminError
from webadmin.staging import STAGED_MAX_AGE_S, StagingArea

T0 = 1_764_000_000.0


@pytest.fixture
def area(tmp_path):
    return StagingArea(tmp_path / "staging" / "contacts", max_bytes=1000)


def test_staged_and_taken_back_by_its_owner_only(area):
    token = area.stage("sue", "s1", "c.csv", {"replace": "1"}, b"name\nAnn\n", T0)
    staged = area.take(token, "sue", "s1", T0 + 1)
    assert (staged.filename, staged.options, staged.data, staged.staged_at) == ("c.csv", {"replace": "1"},
                                                                                  b"name\nAnn\n", T0)
    assert area.take(token, "ada", "s1", T0 + 1) is None  # another user
    assert area.take(token, "sue", "s2", T0 + 1) is None  # another session
    assert area.tokens() == [token]  # refusals remove nothing
    path = area.folder / (token + ".staged")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(area.folder).st_mode) == 0o700
    area.discard(token)
    assert area.tokens() == [] and area.take(token, "sue", "s1", T0 + 2) is None


def test_tokens_are_random_and_checked_before_any_path_is_made(area, tmp_path):
    tokens = {area.stage(f"u{i}", "s", "c.csv", {}, b"x", T0) for i in range(20)}
    assert len(tokens) == 20 and all(len(t) == 32 for t in tokens)
    (tmp_path / "secret.staged").write_bytes(b'{"owner": "sue"}\n')
    for bad in ("../secret", "../../secret", "", "a" * 31, "a" * 33, "a/b" * 11):
        assert area.take(bad, "sue", "s", T0) is None
    area.discard("../secret")
    assert (tmp_path / "secret.staged").exists()


def test_the_size_limit_edges(area):
    area.stage("sue", "s", "c.csv", {}, b"x" * 1000, T0)
    with pytest.raises(WebAdminError, match="more than 1000 bytes"):
        area.stage("ada", "s", "c.csv", {}, b"x" * 1001, T0)
    assert len(area.tokens()) == 1


def test_one_per_owner(area):
    first = area.stage("sue", "s1", "a.csv", {}, b"a", T0)
    other = area.stage("ada", "s9", "b.csv", {}, b"b", T0)
    second = area.stage("sue", "s2", "c.csv", {}, b"c", T0 + 5)
    assert sorted(area.tokens()) == sorted([other, second]) and first not in area.tokens()


def test_expiry_edges(area):
    token = area.stage("sue", "s", "c.csv", {}, b"a", T0)
    assert area.take(token, "sue", "s", T0 + STAGED_MAX_AGE_S) is not None  # edge: still there
    assert area.take(token, "sue", "s", T0 + STAGED_MAX_AGE_S + 0.001) is None
    assert area.tokens() == []  # and removed
    later = area.stage("sue", "s", "c.csv", {}, b"a", T0)
    area.sweep(T0 - 1)  # the clock went back: a file from the future is not trusted either
    assert later not in area.tokens()


def test_a_damaged_file_is_refused_and_removed(area):
    token = area.stage("sue", "s", "c.csv", {}, b"a", T0)
    (area.folder / (token + ".staged")).write_bytes(b"not json\nname\n")
    assert area.take(token, "sue", "s", T0) is None and area.tokens() == []


# ----------------------------------------------------------------------------- uploads sent in pieces

def test_an_upload_in_pieces_is_appended_in_order_and_handed_on_by_a_rename(area, tmp_path):
    token = area.begin("sue", "s1", "b.tar", {}, 10, T0)
    assert area.find(token, "sue", "s1", T0).received == 0
    assert area.append(token, "sue", "s1", 0, b"abcd", T0 + 1) == 4
    assert area.append(token, "sue", "s1", 4, b"efghij", T0 + 2) == 10
    part = area.folder / (token + ".part")
    assert stat.S_IMODE(os.stat(part).st_mode) == 0o600
    found = area.find(token, "sue", "s1", T0 + 3)
    assert (found.size, found.received, found.filename) == (10, 10, "b.tar")
    whole = area.stage("ada", "s9", "c.csv", {}, b"abc", T0)
    assert sorted((u.token, u.size, u.received) for u in area.uploads(T0 + 3)) == sorted(
        [(token, 10, 10), (whole, None, 0)])
    area.discard(whole)
    destination = tmp_path / "upload.tar"
    assert area.claim(token, "sue", "s1", T0 + 3, destination).size == 10
    assert destination.read_bytes() == b"abcdefghij"
    assert area.tokens() == [] and sorted(p.name for p in area.folder.iterdir()) == []


def test_pieces_out_of_order_past_the_size_or_not_ours_change_nothing(area, tmp_path):
    token = area.begin("sue", "s1", "b.tar", {}, 10, T0)
    area.append(token, "sue", "s1", 0, b"abcd", T0)
    for offset in (0, 3, 5, 8):  # a repeat, an overlap, a gap
        with pytest.raises(WebAdminError, match=f"piece at byte {offset} out of order: 4 bytes received"):
            area.append(token, "sue", "s1", offset, b"xx", T0)
    with pytest.raises(WebAdminError, match="past the declared size of 10 bytes"):
        area.append(token, "sue", "s1", 4, b"x" * 7, T0)
    for owner, session in (("ada", "s1"), ("sue", "s2")):
        with pytest.raises(WebAdminError, match="no such upload"):
            area.append(token, owner, session, 4, b"xx", T0)
        with pytest.raises(WebAdminError, match="no such upload"):
            area.claim(token, owner, session, T0, tmp_path / "x.tar")
        assert area.find(token, owner, session, T0) is None
    with pytest.raises(WebAdminError, match="incomplete: 4 of 10 bytes received"):
        area.claim(token, "sue", "s1", T0, tmp_path / "x.tar")
    assert not (tmp_path / "x.tar").exists() and area.find(token, "sue", "s1", T0).received == 4
    assert area.append(token, "sue", "s1", 4, b"x" * 6, T0) == 10  # the edge: exactly the declared size


def test_the_declared_size_edges(area):
    for size in (0, -1, 1001):
        with pytest.raises(WebAdminError, match="size must be 1 to 1000 bytes"):
            area.begin("sue", "s", "b.tar", {}, size, T0)
    assert area.tokens() == []
    assert area.find(area.begin("sue", "s", "b.tar", {}, 1000, T0), "sue", "s", T0).size == 1000


def test_an_upload_in_pieces_expires_from_its_start_with_its_pieces(area):
    token = area.begin("sue", "s", "b.tar", {}, 10, T0)
    area.append(token, "sue", "s", 0, b"abc", T0 + STAGED_MAX_AGE_S)  # edge: still taken
    with pytest.raises(WebAdminError, match="no such upload"):
        area.append(token, "sue", "s", 3, b"def", T0 + STAGED_MAX_AGE_S + 0.001)
    assert list(area.folder.iterdir()) == []  # the header and the pieces went


def test_a_new_upload_replaces_the_owners_earlier_one_and_orphan_pieces_go(area):
    first = area.begin("sue", "s", "b.tar", {}, 10, T0)
    area.append(first, "sue", "s", 0, b"abc", T0)
    second = area.begin("sue", "s", "b.tar", {}, 10, T0 + 1)
    assert area.tokens() == [second] and not (area.folder / (first + ".part")).exists()
    (area.folder / ("o" * 32 + ".part")).write_bytes(b"left behind")
    area.sweep(T0 + 2)
    assert sorted(p.name for p in area.folder.iterdir()) == [second + ".staged"]
