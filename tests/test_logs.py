import io
import logging

from drivers.logs import EventLogger, RateLimitFilter, configure_logging, format_value


def test_one_line_key_value_with_component():
    stream = io.StringIO()
    configure_logging(stream)
    EventLogger("engine", port=3).info("offhook", call=17, name="Jane Doe")
    line = stream.getvalue().strip()
    assert "\n" not in line
    assert line.split(" ", 3)[1:3] == ["INFO", "engine"]
    assert line.endswith('event=offhook port=3 call=17 name="Jane Doe"')


def test_values_are_quoted_when_needed():
    assert format_value("a b") == '"a b"'
    assert format_value('say "hi"') == '"say \\"hi\\""'
    assert format_value("") == '""'
    assert format_value(0.25) == "0.25"


def test_rate_limit_suppresses_a_storm_and_reports_the_count():
    limiter = RateLimitFilter(per_second=1.0, burst=3)
    passed = []
    for i in range(10):
        record = logging.LogRecord("linebox.drivers", logging.WARNING, "", 0, "crc_error", (), None)
        record.created = 100.0 + i * 0.01
        passed.append(limiter.filter(record))
    assert passed.count(True) == 3
    later = logging.LogRecord("linebox.drivers", logging.WARNING, "", 0, "crc_error", (), None)
    later.created = 102.0
    assert limiter.filter(later)
    assert later.fields["suppressed"] == 7


def test_component_level_changes_at_runtime():
    stream = io.StringIO()
    configure_logging(stream, component_levels={"dsp": logging.WARNING})
    EventLogger("dsp").info("hidden")
    EventLogger("engine").info("shown")
    assert "hidden" not in stream.getvalue() and "shown" in stream.getvalue()


# -- log injection: nothing that is not printable reaches a line as itself --------------------

C0 = [chr(code) for code in range(0x00, 0x20)]
C1 = [chr(code) for code in range(0x80, 0xA0)]
HOSTILE = [
    *C0, "\x7f", *C1,
    "\x1b[2J",  # ANSI: clear the screen
    "\x1b[1;1H",  # cursor home
    "\x1b]0;owned\x07",  # OSC: set the terminal's title
    "\x9b2J",  # the 8-bit CSI form of clear screen
    "\x1b[31mERROR\x1b[0m",
    "fake\n2026-01-01T00:00:00.000Z INFO engine event=forged",
    "\u2028\u2029\u202e\u200b",  # line/paragraph separators, right-to-left override, zero width space
    "\udcff",  # a lone surrogate (undecodable bytes with surrogateescape)
]


def _raw_controls(text: str) -> list[str]:
    return [ch for ch in text if not ch.isprintable()]


def logged_line(value, event="cid_received") -> str:
    stream = io.StringIO()
    handler = configure_logging(stream, rate_limit=RateLimitFilter(per_second=1000.0, burst=1000))
    try:
        EventLogger("engine", port=1).info(event, name=value, number="5551234")
    finally:
        logging.getLogger("linebox").removeHandler(handler)
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text[:-1]


def test_every_control_character_is_escaped_in_values_and_events():
    for value in HOSTILE:
        for line in (logged_line(value), logged_line("x", event=value), logged_line(f"name {value} end")):
            assert _raw_controls(line) == [], (value, line)
            assert line.split(" ", 3)[1:3] == ["INFO", "engine"]
            assert line.endswith(" number=5551234")


def test_escapes_are_python_style_and_unambiguous():
    assert format_value("\x00") == '"\\x00"'
    assert format_value("\x1b[2J") == '"\\x1b[2J"'
    assert format_value("\x7f") == '"\\x7f"'
    assert format_value("\x9b") == '"\\x9b"'
    assert format_value("a\r\nb\tc") == '"a\\r\\nb\\tc"'
    assert format_value("\u2028") == '"\\u2028"'
    assert format_value("\U000e0001") == '"\\U000e0001"'  # LANGUAGE TAG: not printable
    # a literal backslash is quoted and doubled, so it can never be read as an escape
    assert format_value("\\x1b") == '"\\\\x1b"'
    assert format_value("MÜLLER") == "MÜLLER"  # printable Latin-1 stays as sent
    for value in HOSTILE:
        encoded = format_value(value)
        assert encoded.startswith('"') and encoded.endswith('"')
        decoded = encoded[1:-1].encode("ascii", "backslashreplace").decode("unicode_escape")
        assert decoded == value  # the escapes are exactly Python's: the text can be recovered


def test_keys_and_tracebacks_cannot_break_the_line():
    stream = io.StringIO()
    handler = configure_logging(stream)
    try:
        EventLogger("engine").info("odd_key", **{"a\nb\x1b": 1})
        try:
            raise ValueError("bad name \x1b[2J\rend")
        except ValueError:
            EventLogger("engine").exception("failed")
    finally:
        logging.getLogger("linebox").removeHandler(handler)
    first, *rest = stream.getvalue().splitlines()
    assert first.endswith("event=odd_key a\\x0ab\\x1b=1")
    assert all(_raw_controls(line) == [] for line in rest)
    assert "bad name \\x1b[2J\\rend" in stream.getvalue()
