"""A status reaches only the process it belongs to: an orphan's exit status
is never handed to a later child that got the same pid (pids recycle fast
with pid_max lowered inside a PID namespace of luasup's own)."""

import subprocess

import pytest

from helpers import LOOPS, LUASUP, env_for

SCRIPT = """
local init = require('init')
local kids, early = {}, 0
for round = 1, 40 do
  -- 50 orphans exit with 7, reaped by luasup with nobody to claim them
  init.exec('sh', '-c', 'i=0; while [ $i -lt 50 ]; do sh -c "exit 7" & i=$((i+1)); done'):wait()
  init.sleep(0.01)
  for i = 1, 5 do
    local c = init.exec('sleep', '2')
    if not c:running() then early = early + 1 end
    kids[#kids + 1] = c
  end
end
local wrong = 0
for _, c in ipairs(kids) do
  local _, how, code = c:wait()
  if how ~= 'exit' or code ~= 0 then wrong = wrong + 1 end
end
print(('early %d wrong %d of %d'):format(early, wrong, #kids))
"""


@pytest.mark.parametrize("loop", LOOPS)
def test_an_orphans_status_never_reaches_a_new_child_with_its_pid(loop):
    # pid_max of 1000 in the namespace: pids wrap every ~700 processes, and
    # the script makes ~2,200
    shell = 'echo 1000 > /proc/sys/kernel/pid_max && exec "$0" -e "$1"'
    result = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", shell,
                             LUASUP, SCRIPT],
                            env=env_for(loop), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "early 0 wrong 0 of 200\n", result.stderr
