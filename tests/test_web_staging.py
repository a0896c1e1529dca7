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
