"""The engine as a real process on the virtual board, unpaced traffic writing to every store,
killed with SIGKILL at 20 seeded random moments and started again each time
(linebox/bench/durability.py). Nothing committed may be lost, the database must stay intact,
start-up must leave no orphan and no call stuck open. The restart time is measured by
``linebox bench durability``, not asserted here (a shared machine's timing is no verdict).
"""

import pytest

from linebox.bench.durability import run_kills

pytestmark = pytest.mark.slow

KILLS = 20


def test_twenty_kills_lose_nothing_and_leave_nothing(tmp_path):
    report = run_kills(tmp_path, KILLS, seed=11)
    assert report["kills"] == KILLS
    assert report["rows_lost"] == 0, report
    assert report["integrity"] == "ok", report
    assert report["orphans"] == 0, report
    assert report["stuck_calls"] == 0, report
    # The kills landed in real traffic: rows were there to lose, calls were cut (open rows recovered).
    assert report["rows_checked"] >= 20 * KILLS // 2, report
    assert report["queue_log_lines_checked"] >= KILLS, report  # queue_log lines are among them
    assert report["restarts_measured"] >= KILLS // 2, report
    logs = "".join(path.read_text(errors="replace") for path in tmp_path.glob("engine-*.log"))
    assert "cdr_cut_short" in logs
    assert "vm_saved" in logs and "queue_join" in logs and "config_changed" in logs
    assert "Traceback" not in logs and "cdr_spooled" not in logs
