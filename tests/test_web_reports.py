"""Queue reports: server-drawn SVG charts (webadmin.charts) and the page over real interval rows."""

from __future__ import annotations

import re

import pytest

from firmware.acd.stats import QueueStats
from firmware.acdengine.history import IntervalRow, queue_counters
from tests.web_helpers import admin_client, signed_in
from webadmin.charts import HEIGHT, LEFT, TOP, WIDTH, line_chart

DAY = 1_764_892_800.0  # 2025-12-05 00:00 UTC


def test_chart_points_land_on_the_axes_and_gaps_split_the_line():
    svg = str(line_chart([(0, 0.0), (1, 50.0), (2, None), (3, 100.0), (4, 150.0)], 100, "SL <x>", "%"))
    lines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert len(lines) == 2  # the None splits the line
    first = [tuple(map(float, point.split(","))) for point in lines[0].split()]
    assert first[0] == (LEFT, HEIGHT - 28) and first[1][1] == pytest.approx(TOP + (HEIGHT - TOP - 28) / 2)
    second = [tuple(map(float, point.split(","))) for point in lines[1].split()]
    assert second[0][1] == TOP and second[1] == (WIDTH - 12, TOP)  # 150 is drawn at the top (100)
    assert "SL &lt;x&gt;" in svg and "<x>" not in svg and "style=" not in svg


def test_chart_single_point_and_empty():
    assert "<circle" in str(line_chart([(5, 1.0)], 10, "one", "s"))
    assert "no figures" in str(line_chart([], 10, "none", "s"))
    with pytest.raises(ValueError):
        line_chart([], 0, "bad", "s")


@pytest.fixture
def supervisor(tmp_path):
    with admin_client(tmp_path, others=[("sue", "supervisor")]) as (admin, services):
        for hour, (answered, in_sl, abandoned) in enumerate([(10, 8, 2), (4, 4, 0), (0, 0, 0)]):
            stats = QueueStats(offered=answered + abandoned, answered=answered, answered_in_sl=in_sl,
                               abandoned=abandoned, answered_wait_seconds=15.0 * answered)
            services.intervals.write([IntervalRow("queue", "support", 3600, DAY + 3600 * (9 + hour),
                                                  queue_counters(stats))])
        yield signed_in(admin.application, "sue")


def test_queue_report_charts_and_table(supervisor):
    html = supervisor.get("/reports/queues?queue=support&size=hour&since=2025-12-05").get_data(as_text=True)
    assert html.count('<svg class="chart"') == 3
    assert "80.0 %" in html and "100.0 %" in html and "16.7 %" in html  # SL 8/10, 4/4; abandon 2/12
    assert "2025-12-05 09:00:00" in html and "2025-12-05 11:00:00" in html
    assert "2025-12-06" not in supervisor.get("/reports/queues?until=2025-12-04").get_data(as_text=True)


@pytest.mark.parametrize("query, field", [("queue=nosuch", "queue"), ("size=week", "size"), ("since=today", "since")])
def test_queue_report_bad_filters(supervisor, query, field):
    response = supervisor.get(f"/reports/queues?{query}")
    assert response.status_code == 400 and f'id="f-{field}-error"' in response.get_data(as_text=True)
