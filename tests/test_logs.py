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
