"""Outbound line selection (firmware/engine/lines.py): which line of which trunk group an
outside call seizes, for first_free and round_robin, with busy and out-of-service lines."""

import itertools
import re
from pathlib import Path

import pytest
from config_helpers import demo, lookup, replace

from firmware.config import Config, Extension, Line, LineSelection, validate
from firmware.engine.lines import LineChoice, select_line

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

FIRST, ROUND = LineSelection.FIRST_FREE, LineSelection.ROUND_ROBIN


def site(mode: LineSelection) -> Config:
    """Board "big" (FXO 0-3). Group main is ports 2, 0, 3 in that (configuration) order, sales is port 1."""
    base = demo()
    config = replace(
        base,
        board="big",
        lines=(
            Line(port=2, name="Line C"),
            Line(port=0, name="Line A"),
            Line(port=1, name="Sales 1", group="sales"),
            Line(port=3, name="Line D"),
        ),
        extensions=(
            Extension(number="201", port=4, name="Reception", voicemail=True),
            Extension(number="202", port=5, name="Sales", trunk_group="sales"),
            Extension(number="203", port=6, name="Support", trunk_group="main"),
            Extension(number="204", port=7, name="Office"),
        ),
        dialplan=replace(base.dialplan, line_selection=mode),
    )
    return validate(config, lookup)


SITES = {mode: site(mode) for mode in LineSelection}
MAIN = (2, 0, 3)


def choose(mode, ext, busy=(), down=(), last=None) -> LineChoice:
    config = SITES[mode]
    extension = None if ext is None else config.extension(ext)
    return select_line(config, extension, frozenset(busy), dict(last or {}), out_of_service=frozenset(down))


TABLE = [
    # mode, extension, busy ports, out-of-service ports, last used, expected port (None: none free)
    (FIRST, "201", (), (), {}, 2),  # configuration order, not port order
    (FIRST, "201", (2,), (), {}, 0),
    (FIRST, "201", (2, 0), (), {}, 3),
    (FIRST, "201", (2, 0, 3), (), {}, None),
    (FIRST, "201", (), (2,), {}, 0),
    (FIRST, "201", (0,), (2, 3), {}, None),
    (FIRST, "201", (1,), (), {}, 2),  # a busy line of another group changes nothing
    (FIRST, "201", (), (), {"main": 2}, 2),  # first_free ignores the last used line
    (FIRST, "203", (), (), {}, 2),  # its own group, which is also the dial plan's
    (FIRST, None, (2,), (), {}, 0),  # not from an extension: the dial plan's group
    (FIRST, "202", (), (), {}, 1),
    (FIRST, "202", (1,), (), {}, None),  # never borrows a line of another group
    (FIRST, "202", (), (1,), {}, None),
    (ROUND, "201", (), (), {}, 2),  # nothing used yet: from the first
    (ROUND, "201", (), (), {"main": 2}, 0),
    (ROUND, "201", (), (), {"main": 0}, 3),
    (ROUND, "201", (), (), {"main": 3}, 2),  # wraps round
    (ROUND, "201", (0,), (), {"main": 2}, 3),
    (ROUND, "201", (2,), (), {"main": 3}, 0),
    (ROUND, "201", (2, 3), (), {"main": 0}, 0),  # the line used last, when it is the only free one
    (ROUND, "201", (), (3,), {"main": 0}, 2),
    (ROUND, "201", (), (), {"main": 1}, 2),  # last used line left the group: from the first
    (ROUND, "201", (), (), {"sales": 1}, 2),  # another group's state is not this group's
    (ROUND, "201", (2, 0, 3), (), {"main": 0}, None),
    (ROUND, "202", (), (), {"sales": 1}, 1),  # a one-line group
    (ROUND, None, (), (), {"main": 2}, 0),
]


@pytest.mark.parametrize("mode,ext,busy,down,last,expected", TABLE)
def test_selection_table(mode, ext, busy, down, last, expected):
    choice = choose(mode, ext, busy, down, last)
    group = "sales" if ext == "202" else "main"
    assert choice.group == group
    assert choice.port == expected, choice.explanation
    if expected is None:
        assert choice.line is None
        assert dict(choice.last_used) == last
        assert choice.explanation.endswith("unavailable: none")
    else:
        assert choice.line == SITES[mode].line(expected)
        assert dict(choice.last_used) == {**last, group: expected}
        assert choice.explanation.endswith(f"port {expected} ({choice.line.name}) free => chosen")


def test_explanation_names_every_line_considered():
    choice = choose(ROUND, "201", busy=(3,), down=(2,), last={"main": 0})
    assert choice.explanation == (
        'trunk group "main" (dialplan.trunk_group; extension 201 names none); round_robin: after port 0; '
        "port 3 (Line D) busy; port 2 (Line C) out of service; port 0 (Line A) free => chosen")
    choice = choose(FIRST, "202", busy=(1,))
    assert choice.explanation == (
        "trunk group \"sales\" (extension 202's trunk_group); first_free: configuration order; "
        "port 1 (Sales 1) busy; all 1 line unavailable: none")
    choice = choose(FIRST, None, busy=(2, 0), down=(2, 3))
    assert choice.explanation == (
        'trunk group "main" (dialplan.trunk_group); first_free: configuration order; port 2 (Line C) out of service; '
        "port 0 (Line A) busy; port 3 (Line D) out of service; all 3 lines unavailable: none")
    assert choose(ROUND, "201").explanation.startswith(
        'trunk group "main" (dialplan.trunk_group; extension 201 names none); round_robin: no line used yet, '
        "from the first; port 2 (Line C) free")
    assert "round_robin: last used port 1 is not in the group, from the first; port 2" in choose(
        ROUND, "201", last={"main": 1}).explanation


def test_group_without_lines_selects_nothing():
    """Validation refuses such a group; a hand-built snapshot still gets an answer, not a crash."""
    config = replace(SITES[FIRST], extensions=(Extension(number="209", port=9, trunk_group="fax"),))
    choice = select_line(config, config.extensions[0], frozenset(), {"main": 2})
    assert (choice.group, choice.line, dict(choice.last_used)) == ("fax", None, {"main": 2})
    assert choice.explanation == 'trunk group "fax" (extension 209\'s trunk_group); no line is in this group: none'


@pytest.mark.parametrize("mode", list(LineSelection))
def test_every_busy_pattern_and_last_used_line(mode):
    """All 16 busy patterns × 5 last-used states × 3 callers: a free line of the right group or none."""
    config = SITES[mode]
    for busy_bits, last, ext in itertools.product(range(16), (None, 0, 1, 2, 3), ("201", "202", None)):
        busy = frozenset(port for port in range(4) if busy_bits >> port & 1)
        group = "sales" if ext == "202" else "main"
        members = MAIN if group == "main" else (1,)
        state = {} if last is None else {group: last, "other": 9}
        before = dict(state)
        choice = select_line(config, None if ext is None else config.extension(ext), busy, state)
        assert state == before  # the argument is never modified
        free = [port for port in members if port not in busy]
        if not free:
            assert choice.line is None and dict(choice.last_used) == before
            continue
        assert choice.port in free and choice.line.group == group
        assert dict(choice.last_used) == {**before, group: choice.port}
        if mode is FIRST:
            assert choice.port == free[0]
        else:
            start = members.index(last) + 1 if last in members else 0
            rotated = members[start:] + members[:start]
            assert choice.port == next(port for port in rotated if port in free)


def test_round_robin_spreads_calls_evenly():
    state: dict = {}
    used = []
    for _ in range(9):
        choice = choose(ROUND, "201", last=state)
        used.append(choice.port)
        state = dict(choice.last_used)
    assert used == [2, 0, 3] * 3
    used = []
    for _ in range(6):  # line 0 is out of service meanwhile: the other two share the calls
        choice = choose(ROUND, "201", down=(0,), last=state)
        used.append(choice.port)
        state = dict(choice.last_used)
    assert used == [2, 3] * 3


def test_first_free_keeps_using_the_first_line():
    state: dict = {}
    for _ in range(3):
        choice = choose(FIRST, "201", last=state)
        assert choice.port == 2
        state = dict(choice.last_used)
    assert state == {"main": 2}


def test_returned_state_is_read_only():
    choice = choose(ROUND, "201")
    with pytest.raises(TypeError):
        choice.last_used["main"] = 0  # type: ignore[index]


def test_docs_example_is_what_the_function_says():
    config = validate(replace(demo(), dialplan=replace(demo().dialplan, line_selection=ROUND)), lookup)
    choice = select_line(config, config.extension("201"), frozenset({1}), {"main": 0})
    assert choice.port == 0
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    assert f"`{choice.explanation}`" in text, choice.explanation
    assert re.search(r"\| `dialplan\.line_selection` \| choice \| `first_free`, `round_robin` \| `first_free` \|", text)
