"""logs.console: records on luasup's stdout/stderr behind a prefix template,
or as JSON lines; a colour per name only on a terminal."""

import calendar
import json
import os
import pty
import re
import subprocess
import time

import pytest

from helpers import DEADLINE, command, env_for
from helpers.logfiles import PRELUDE, policy, policy_bytes

OUT_AND_ERR = "init.exec{ 'sh', '-c', 'echo out; echo err >&2', name = 'web', stdout = 'log', stderr = 'log' }"


def test_prefix_template_fields():
    before = time.time()
    result = policy("""
        logs.route{ to = logs.console{ prefix = '[{time}] {name}/{stream}/{pid}: ' } }
        local c = %s
        c:status()
        io.stderr:write('pid ', c:pid(), '\\n')
    """ % OUT_AND_ERR)
    after = time.time()
    assert result.returncode == 0, result.stderr
    pid = re.search(r"^pid (\d+)$", result.stderr, re.M).group(1)
    found = {}
    for stream, text in [("stdout", result.stdout), ("stderr", result.stderr)]:
        m = re.search(r"^\[(\S+)\] web/%s/%s: (\w+)$" % (stream, pid), text, re.M)
        assert m, text
        found[stream] = m.group(2)
        stamp = m.group(1)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
        wall = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + float(stamp[19:-1])
        assert before - 1 <= wall <= after + 1
    assert found == {"stdout": "out", "stderr": "err"}


@pytest.mark.parametrize("stream,out,err", [
    ("same", ["web | out"], ["web | err"]),
    ("stdout", ["web | err", "web | out"], []),
    ("stderr", [], ["web | err", "web | out"]),
])
def test_stream_same_stdout_or_stderr(stream, out, err):
    result = policy("logs.route{ to = logs.console{ stream = %r } }\n%s:status()" % (stream, OUT_AND_ERR))
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == out
    assert sorted(l for l in result.stderr.splitlines() if not l.startswith("luasup: ")) == err


def test_json_lines_are_valid_json_with_bytes_that_are_not_utf8_escaped():
    writer = "printf 'plain\\n\\377\\376 raw\\n\"quoted\" \\\\ tab\\there\\n' ; printf 'é\\n' >&2"
    result = policy_bytes("""
        logs.route{ to = logs.console{ format = 'json', stream = 'stdout' } }
        local c = init.exec{ 'sh', '-c', %r, name = 'web', stdout = 'log', stderr = 'log' }
        c:status()
    """ % writer)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    by_stream = {}
    for r in records:
        assert set(r) == {"time", "name", "stream", "pid", "line"}
        assert r["name"] == "web" and isinstance(r["pid"], int)
        by_stream.setdefault(r["stream"], []).append(r["line"])
    assert by_stream == {"stdout": ["plain", "\\xff\\xfe raw", '"quoted" \\ tab\there'],
                         "stderr": ["é"]}


def on_a_terminal(args, stderr_too=True):
    """Run luasup with its stdout (and stderr) on a pseudo-terminal: what the
    terminal got, and what a pipe on stderr got if not stderr_too."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(command(args), env=env_for(), stdout=slave,
                            stderr=slave if stderr_too else subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer of the terminal is gone
            break
        if not data:
            break
        seen += data
    os.close(master)
    err = proc.stderr.read() if not stderr_too else None
    assert proc.wait(timeout=DEADLINE) == 0
    return seen.replace(b"\r\n", b"\n"), err


COLOURED = rb"\x1b\[3\dm%s \| \x1b\[0m%s"
TWO_NAMES = """
    logs.route{ to = logs.console{} }
    %s:status()
    init.exec{ 'echo', 'hi', name = 'db', stdout = 'log' }:status()
""" % OUT_AND_ERR


def test_colour_per_name_on_a_terminal():
    seen, _ = on_a_terminal(["-e", PRELUDE + TWO_NAMES])
    colours = {}
    for name, line in [(b"web", b"out"), (b"web", b"err"), (b"db", b"hi")]:
        m = re.search(COLOURED % (name, line), seen)
        assert m, seen
        colours.setdefault(name, set()).add(m.group(0)[:5])
    assert all(len(c) == 1 for c in colours.values())  # one colour per name


def test_no_colour_when_piped():
    result = policy_bytes(TWO_NAMES)
    assert result.returncode == 0
    assert b"\x1b" not in result.stdout + result.stderr
    assert b"web | out\n" in result.stdout and b"web | err\n" in result.stderr


def test_no_colour_on_a_piped_stderr_when_stdout_is_a_terminal():
    seen, err = on_a_terminal(["-e", PRELUDE + TWO_NAMES], stderr_too=False)
    assert re.search(COLOURED % (b"web", b"out"), seen)
    assert b"web | err\n" in err and b"\x1b" not in err


def test_color_true_or_false_overrides_the_terminal_check():
    forced = TWO_NAMES.replace("logs.console{}", "logs.console{ color = true }")
    result = policy_bytes(forced)
    assert re.search(COLOURED % (b"web", b"out"), result.stdout)
    seen, _ = on_a_terminal(["-e", PRELUDE + TWO_NAMES.replace("logs.console{}", "logs.console{ color = false }")])
    assert b"\x1b" not in seen and b"web | out\n" in seen


def test_json_escapes_a_name_that_is_not_utf8():
    result = policy_bytes("""
        logs.route{ to = logs.console{ format = 'json', stream = 'stdout' } }
        init.exec{ 'echo', 'hi', name = 'w\\255b', stdout = 'log' }:status()
    """)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.decode("utf-8"))
    assert (record["name"], record["line"]) == ("w\\xffb", "hi")
