"""`luasup -- CMD` starts CMD in the directory luasup was started in, and
itself works from /, so it never keeps a mount busy (as dumb-init and
catatonit do)."""

import os

import pytest

from helpers import luasup_pid, read_line, run, start, stop, wait_until


@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
@pytest.mark.parametrize("single", [[], ["-c"]], ids=["group", "single-child"])
def test_cmd_starts_in_the_start_directory_and_luasup_holds_only_root(tmp_path, pidns, single):
    proc = start(single + ["--", "sh", "-c", "pwd; cat"], pidns=pidns, cwd=tmp_path,
                 stdin=-1)
    try:
        assert read_line(proc.stdout) == "%s\n" % tmp_path
        host_pid = luasup_pid(proc, pidns)
        wait_until(lambda: os.readlink("/proc/%d/cwd" % host_pid) == "/",
                   what="luasup to work from /")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        stop(proc)


def test_a_relative_command_is_found_in_the_start_directory(tmp_path):
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\necho tool in $PWD\nexit 7\n")
    tool.chmod(0o755)
    result = run(["--", "./tool"], cwd=tmp_path)
    assert (result.returncode, result.stdout) == (7, "tool in %s\n" % tmp_path)
