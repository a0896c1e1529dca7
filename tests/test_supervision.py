"""How linebox processes start again (linebox/supervision.py): exit status 75 under systemd, else
executing themselves again in place."""

import os
import subprocess
import sys
from pathlib import Path

from linebox.supervision import restarter, under_systemd

ROOT = Path(__file__).resolve().parent.parent


def test_systemd_is_told_by_the_variables_it_sets():
    assert not under_systemd({}) and restarter({}) == "self"
    assert under_systemd({"INVOCATION_ID": "abc"}) and restarter({"INVOCATION_ID": "abc"}) == "systemd"
    assert restarter({"NOTIFY_SOCKET": "/run/systemd/notify"}) == "systemd"
    assert restarter({"INVOCATION_ID": ""}) == "self"  # an empty value is not systemd's


def test_execute_again_keeps_the_process_id_the_command_line_and_the_environment(tmp_path):
    code = ("import os, sys\n"
            "from linebox.supervision import execute_again\n"
            "run = int(os.environ.get('RUN', '0'))\n"
            "print(os.getpid(), run, sys.argv[1:], os.getcwd(), flush=True)\n"
            "os.environ['RUN'] = str(run + 1)\n"
            "if run == 0:\n"
            "    execute_again()\n")
    done = subprocess.run([sys.executable, "-c", code, "one", "two"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    first, second = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert first.split(" ", 1)[0] == second.split(" ", 1)[0]  # the same process
    assert first.split(" ", 2)[1:] == ["0", f"['one', 'two'] {tmp_path}"]
    assert second.split(" ", 2)[1:] == ["1", f"['one', 'two'] {tmp_path}"]
