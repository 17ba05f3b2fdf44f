"""The image built from the Dockerfile, run for real with luasup as PID 1 of
the container: exit codes, `podman stop`, the grace period, orphans and
`podman exec` beside it."""

import time

import pytest

from helpers import wait_until

pytestmark = pytest.mark.xdist_group("container")  # one worker builds the image, once

DEADLINE = 60.0
# podman stop's own timeout comes on top of the stop it waits for
STOP_SLACK = 60
# Children that wait for a stop; "ready" on stdout once both are started.
SUPERVISOR = """
local init = require('init')
%s
init.exec('sleep', 3600)
print('ready')
init.sleep(3600)
"""
STUBBORN = "init.exec('sh', '-c', \"trap '' TERM; while :; do sleep 1; done\")"
ORPHANS = 200
# A child that double-forks: each subshell starts a sleep and exits at once,
# leaving the sleep to be adopted by PID 1.
ORPHAN_MAKER = """
local init = require('init')
local maker = init.exec('sh', '-c', 'i=0; while [ $i -lt %d ]; do (sleep 3600 &); i=$((i+1)); done')
print('maker exited', maker:status())
init.sleep(3600)
""" % ORPHANS


def wait_for_log(podman, name, text):
    wait_until(lambda: text in podman("logs", name).stdout, DEADLINE,
               "%r in the logs of %s" % (text, name))


def children_of_pid1(podman, name, count):
    """Wait until PID 1 has `count` live children; return them."""
    def found():
        kids = [p for p in podman.processes(name) if p["ppid"] == 1 and p["state"] != "Z"]
        return kids if len(kids) == count else None
    return wait_until(found, DEADLINE, "%d children of PID 1 in %s" % (count, name))


def stop(podman, name, timeout):
    """`podman stop -t timeout`; the seconds it took."""
    began = time.monotonic()
    podman("stop", "--time", str(timeout), name, timeout=timeout + STOP_SLACK, check=True)
    return time.monotonic() - began


def test_default_command_runs_the_pair_example(podman, image, container):
    proc = podman.run(container("pair"), image)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("started web\t")
    assert proc.stdout.endswith("web exited\t0\tworker exited\t0\n")


@pytest.mark.parametrize("form", ["inline", "file"])
def test_the_scripts_return_value_is_the_containers_exit_code(podman, image, container,
                                                               tmp_path, form):
    if form == "inline":
        mount, script = [], "return tonumber(arg[1])"
    else:
        (tmp_path / "main.lua").write_text("return tonumber(arg[1])\n")
        mount, script = ["--volume", "%s:/etc/luasup:ro" % tmp_path], "/etc/luasup/main.lua"
    proc = podman.run(container(form), image, script, "7", flags=mount)
    assert proc.returncode == 7, proc.stderr


def test_command_mode_exits_with_the_commands_code_and_shares_its_output(podman, image,
                                                                        container):
    proc = podman.run(container("cmd"), image, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert proc.returncode == 3
    assert proc.stdout == "out\n"
    assert proc.stderr == "err\n"


def test_podman_stop_ends_the_script_and_its_children_with_143(podman, image, container):
    name = container("stop")
    # A grace period far longer than the stop takes: the children must end
    # on the relayed SIGTERM itself, not on the SIGKILL after it.
    podman.run(name, image, SUPERVISOR % "init.exec('sleep', 3600)", detach=True,
               flags=["--env=LUASUP_GRACE_MS=20000", "--env=LUASUP_LOG_LEVEL=debug"])
    wait_for_log(podman, name, "ready")
    kids = children_of_pid1(podman, name, 2)
    took = stop(podman, name, 60)
    assert took < 15, took
    assert podman.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 143"
    logs = podman("logs", name).stderr
    assert "luasup: received SIGTERM: stopping" in logs
    for kid in kids:
        assert "luasup: exited pid %d (SIGTERM)" % kid["pid"] in logs


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(podman, image, container):
    name = container("grace")
    podman.run(name, image, SUPERVISOR % STUBBORN, detach=True,
               flags=["--env=LUASUP_GRACE_MS=1000"])
    wait_for_log(podman, name, "ready")
    children_of_pid1(podman, name, 2)
    took = stop(podman, name, 30)
    # podman's own SIGKILL would come at 30 s and make the exit code 137
    assert 0.9 <= took < 15, took
    assert podman.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 143"
    assert ("luasup: warning: processes still running 1000 ms after SIGTERM: sending SIGKILL"
            in podman("logs", name).stderr)


def test_orphans_of_a_double_forking_child_leave_no_zombie(podman, image, container):
    name = container("orphans")
    podman.run(name, image, ORPHAN_MAKER, detach=True)
    wait_for_log(podman, name, "maker exited\t0")
    orphans = children_of_pid1(podman, name, ORPHANS)
    assert {p["name"] for p in orphans} == {"sleep"}
    podman("exec", name, "sh", "-c", 'kill "$@"', "kill",
           *(str(p["pid"]) for p in orphans), check=True)

    def settled():
        procs = podman.processes(name)
        left = [p for p in procs if p["state"] == "Z" or p["name"] == "sleep"]
        return procs if not left else None
    procs = wait_until(settled, DEADLINE, "the orphans to be reaped in %s" % name)
    pid1 = [p for p in procs if p["pid"] == 1]
    assert pid1 and pid1[0]["name"] == "luasup" and pid1[0]["state"] != "Z"


def test_podman_exec_runs_beside_pid1_and_returns_its_code(podman, image, container):
    name = container("exec")
    podman.run(name, image, SUPERVISOR % "", detach=True)
    wait_for_log(podman, name, "ready")
    assert podman("exec", name, "cat", "/proc/1/comm", check=True).stdout == "luasup\n"
    proc = podman("exec", name, "sh", "-c", "echo beside; exit 5")
    assert (proc.returncode, proc.stdout) == (5, "beside\n")
    # a second luasup beside PID 1 is a subreaper, not PID 1, and works the same
    assert podman("exec", name, "luasup", "return 4").returncode == 4
    assert podman.inspect(name, "{{.State.Running}}") == "true"


def test_runs_as_a_non_root_user_given_at_run_time(podman, image, container, nonroot_uid):
    user = "--user=%d:%d" % (nonroot_uid, nonroot_uid)
    proc = podman.run(container("user"), image, flags=[user])
    assert proc.returncode == 0, proc.stderr
    proc = podman.run(container("id"), image, "--", "id", "-u", flags=[user])
    assert (proc.returncode, proc.stdout) == (0, "%d\n" % nonroot_uid)


def test_the_nonroot_build_runs_as_its_uid(podman, nonroot_image, container, nonroot_uid):
    assert podman.inspect(nonroot_image, "{{.Config.User}}") == "%d:%d" % (nonroot_uid,
                                                                          nonroot_uid)
    proc = podman.run(container("nonroot"), nonroot_image)
    assert proc.returncode == 0, proc.stderr
    proc = podman.run(container("nonroot-id"), nonroot_image, "--", "id", "-u")
    assert (proc.returncode, proc.stdout) == (0, "%d\n" % nonroot_uid)
