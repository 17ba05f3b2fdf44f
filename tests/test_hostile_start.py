"""luasup started in a hostile state still does its job: with fds 0-2
closed, and with its fd table full when the stop comes."""

import os
import resource
import signal
import subprocess

import pytest

from helpers import (LOOPS, LUASUP, children, env_for, luasup_pid, read_line, start, stat, stop,
                     wait_until)


@pytest.mark.parametrize("loop", LOOPS)
def test_started_with_stdio_closed(loop, tmp_path):
    marker = tmp_path / "ran"
    script = ("local init = require('init') init.exec('sleep', '0.1'):wait() print('to nowhere') "
              "local f = io.open(%r, 'w') f:write('ok') f:close()" % str(marker))
    result = subprocess.run(["sh", "-c", 'exec "$0" -e "$1" <&- >&- 2>&-', LUASUP, script],
                            env=env_for(loop), timeout=30)
    assert result.returncode == 0
    assert marker.read_text() == "ok"


def _few_fds():
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))


FILL_FDS = """
local init = require('init')
init.exec('sh', '-c', 'sleep 100 & exit 0'):wait()
local files = {}
while true do
  local f = io.open('/dev/null')
  if not f then break end
  files[#files + 1] = f
end
print('full')
init.sleep(3600)
"""


@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_sigterm_with_the_fd_table_full_still_reaches_orphans(pidns):
    proc = start(["-e", FILL_FDS], pidns=pidns,
                 env=env_for(LUASUP_GRACE_MS=60000), preexec_fn=_few_fds)
    try:
        assert read_line(proc.stdout) == "full\n"
        host = luasup_pid(proc, pidns)
        orphan = wait_until(lambda: children(host), what="the orphan")[0]
        os.kill(host, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert "Traceback" not in proc.stderr.read()
        assert stat(orphan) is None
    finally:
        stop(proc)
