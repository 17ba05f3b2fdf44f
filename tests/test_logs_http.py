"""The http log sink: records POSTed to Loki's push API (or as NDJSON),
retried until the server takes them, each delivered once; a batch the
server refuses is dropped and counted; a dead endpoint costs at most the
sink's max_bytes and never holds up another sink."""

import signal
import subprocess

import pytest

from helpers import env_for, lua_quote, read_line, run, start, terminate, wait_until
from helpers.fakeloki import FakeLoki
from helpers.servers import refusing_port, silent_server

# prints the http sink's counts as luasup exits (before the sinks drain)
STATS_ON_EXIT = """
        init.on_exit(function()
            local s = http:stats()
            print(('stats delivered=%d rejected=%d dropped=%d retries=%d')
                :format(s.delivered, s.rejected, s.dropped, s.retries))
        end)
"""


def policy(sink, writers, then="init.wait()"):
    """A script with one http sink (`sink`: the options inside logs.http{})
    that every record goes to, running `writers` (name -> shell command,
    stdout and stderr on the bus), waiting for them, then doing `then`."""
    execs = "\n".join("children[#children + 1] = init.exec{ 'sh', '-c', %s, name = %s,"
                      " stdout = 'log', stderr = 'log' }" % (lua_quote(cmd), lua_quote(name))
                      for name, cmd in writers.items())
    return """
        local init = require('init')
        local logs = require('logs')
        local http = logs.http{ %s }
        logs.route{ to = http }
        %s
        local children = {}
        %s
        for _, child in ipairs(children) do child:wait() end
        %s
    """ % (sink, STATS_ON_EXIT, execs, then)


def stats(stdout):
    line = [x for x in stdout.splitlines() if x.startswith("stats ")][-1]
    return {k: int(v) for k, v in (f.split("=") for f in line.split()[1:])}


def numbers(first, last):
    return [str(i) for i in range(first, last + 1)]


def test_records_reach_loki_with_service_stream_and_static_labels():
    with FakeLoki() as loki:
        result = run(["-e", policy(
            "url = %s, labels = { job = 'app', env = 'test' }, headers = { ['X-Scope-OrgID'] = 't1' }"
            % lua_quote(loki.url),
            {"web": "echo hello; printf 'bad \\377 byte\\n' >&2", "worker": "echo working"},
            then="")])
        assert result.returncode == 0, result.stderr
        assert not loki.errors
        labels = {r["line"]: r["labels"] for r in loki.records}
        assert labels == {
            "hello": {"service": "web", "stream": "stdout", "job": "app", "env": "test"},
            "bad \\xff byte": {"service": "web", "stream": "stderr", "job": "app", "env": "test"},
            "working": {"service": "worker", "stream": "stdout", "job": "app", "env": "test"},
        }
        assert {h.get("x-scope-orgid") for h in loki.headers} == {"t1"}


def test_500_and_429_are_retried_and_each_record_arrives_once_in_order():
    n = 3000
    with FakeLoki() as loki:
        # (each service's output is a batch of its own at least)
        loki.answer(500, (429, "slow down", [("Retry-After", "0")]), 204, 503)
        proc = start(["-e", policy(
            "url = %s, batch_bytes = 4096, batch_time = 0.01" % lua_quote(loki.url),
            {"a": "seq 1 %d" % n, "b": "seq 1 %d" % n})])
        try:
            loki.wait_for(2 * n)
        finally:
            out, err = terminate(proc)
        assert loki.lines(service="a") == numbers(1, n)
        assert loki.lines(service="b") == numbers(1, n)
        assert [s for s, _ in loki.requests][:5] == [500, 429, 204, 503, 204]
        assert stats(out)["delivered"] == 2 * n
        assert stats(out)["retries"] == 3
        assert "logs: http %s: HTTP 500: retrying with backoff" % loki.url in err
        assert "logs: http %s: delivering again" % loki.url in err


def test_batches_answered_400_are_dropped_counted_and_reported_once():
    n = 150
    body = "entry too far behind\nfor stream {service=\"a\"}"
    with FakeLoki() as loki:
        loki.answer((400, body), (400, body))
        # each third is written once the request before it was answered
        proc = start(["-e", policy("url = %s, batch_time = 0" % lua_quote(loki.url),
                                   {"a": "seq 1 50; read go; seq 51 100; read go; seq 101 %d" % n})],
                     stdin=subprocess.PIPE)
        try:
            for i in (1, 2):
                wait_until(lambda: len(loki.requests) >= i, what="request %d" % i)
                proc.stdin.write("go\n")
                proc.stdin.flush()
            first, second = loki.requests[:2]
            assert first[0] == second[0] == 400
            refused = first[1] + second[1]
            loki.wait_for(n - refused)
        finally:
            out, err = terminate(proc)
        # the refused batches were the first lines; the rest arrived once each
        assert loki.lines() == numbers(refused + 1, n)
        s = stats(out)
        assert (s["rejected"], s["delivered"], s["retries"]) == (refused, n - refused, 0)
        # one warning for a run of rejections: the body on one line
        assert err.count("rejected") == 1, err
        assert ("luasup: warning: logs: http %s: rejected %d lines: HTTP 400: entry too far behind"
                " for stream {service=\"a\"}\n" % (loki.url, first[1])) in err


def hwm_kib(pid):
    """Peak resident memory of pid so far (VmHWM), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


@pytest.mark.parametrize("dead", ["never answers", "refuses connections"])
def test_a_dead_endpoint_keeps_memory_bounded_and_the_file_sink_gets_everything(dead, tmp_path):
    writers, n = 3, 200000  # 3 x 200,000 lines of 100 bytes: 60 MB
    path = tmp_path / "all.log"
    endpoint = silent_server() if dead == "never answers" else refusing_port()
    with endpoint as port:
        script = """
            local init = require('init')
            local logs = require('logs')
            local http = logs.http{ url = 'http://127.0.0.1:%d/loki/api/v1/push', timeout = 0.5,
                                    max_bytes = 2097152 }
            local file = logs.file{ path = %s, full = 'block' }
            logs.route{ to = { http, file } }
            %s
            local children = {}
            for i = 1, %d do
                -- each waits for its line on stdin, so the test can see memory before
                children[i] = init.exec{ 'sh', '-c', 'read go; exec seq -f "w' .. i
                    .. ' %%09.0f ' .. ('x'):rep(85) .. '" 1 %d', name = 'w' .. i, stdout = 'log' }
            end
            print('ready') io.stdout:flush()
            for i = 1, #children do children[i]:wait() end
            while file:stats().delivered < %d do init.sleep(0.02) end
            print('written') io.stdout:flush()
            init.wait()
        """ % (port, lua_quote(str(path)), STATS_ON_EXIT, writers, n, writers * n)
        proc = start(["-e", script], env=env_for(LUASUP_GRACE_MS=1000), stdin=subprocess.PIPE)
        try:
            assert read_line(proc.stdout) == "ready\n"
            before = hwm_kib(proc.pid)
            proc.stdin.write("go\n" * writers)
            proc.stdin.flush()
            assert read_line(proc.stdout) == "written\n"
            growth = hwm_kib(proc.pid) - before
        finally:
            out, err = terminate(proc)
    # 60 MB went through; the http sink holds 2 MiB plus the batch in hand
    # (the file sink 4 MiB more): growing by 24 MiB at most leaves a wide
    # margin for the allocator, and is far below what keeping it all takes
    assert growth < 24 * 1024, "luasup grew by %d KiB" % growth
    expect = {"w%d" % i: 1 for i in range(1, writers + 1)}
    with open(path) as f:
        for line in f:
            name, number, rest = (line.split(" ", 2) + ["", ""])[:3]
            assert name in expect and rest == "x" * 85 + "\n", "a line cut or mixed in the file: %r" % line
            assert int(number) == expect[name], line
            expect[name] += 1
    assert expect == {"w%d" % i: n + 1 for i in range(1, writers + 1)}
    s = stats(out)
    assert s["delivered"] == 0 and s["dropped"] > writers * n // 2
    assert "logs: http http://127.0.0.1:%d/loki/api/v1/push is full" % port in err
    assert "lines not delivered by the exit" in err


def test_ndjson_posts_one_object_per_record():
    with FakeLoki(mode="ndjson", path="/ingest") as loki:
        result = run(["-e", policy(
            "url = %s, format = 'ndjson', labels = { env = 'test' }" % lua_quote(loki.url),
            {"web": "echo one; echo two >&2"}, then="")])
        assert result.returncode == 0, result.stderr
        assert not loki.errors
        got = sorted((r["name"], r["stream"], r["line"], r["env"]) for r in loki.records)
        assert got == [("web", "stderr", "two", "test"), ("web", "stdout", "one", "test")]
        assert all(isinstance(r["pid"], int) and r["time"].endswith("Z") for r in loki.records)


def test_what_is_queued_at_shutdown_is_delivered_within_the_grace_period():
    n = 5000
    with FakeLoki() as loki:
        # batches that would wait an hour: only the exit sends them
        result = run(["-e", policy("url = %s, batch_time = 3600, batch_bytes = 1e9"
                                   % lua_quote(loki.url), {"web": "seq 1 %d" % n}, then="")])
        assert result.returncode == 0, result.stderr
        assert loki.lines(service="web") == numbers(1, n)
        assert "not delivered" not in result.stderr
        # nothing had gone when the exit hook ran: the drain sent it all
        assert stats(result.stdout)["delivered"] == 0


def test_at_shutdown_a_batch_told_to_retry_after_an_hour_is_tried_again_at_once():
    with FakeLoki() as loki:
        loki.answer((503, "ingester busy", [("Retry-After", "3600")]))
        proc = start(["-e", policy("url = %s" % lua_quote(loki.url), {"web": "seq 1 10"})])
        try:
            wait_until(lambda: loki.requests, what="a first request")
        finally:
            out, err = terminate(proc)
        assert proc.returncode == 128 + signal.SIGTERM
        assert loki.lines() == numbers(1, 10)
        assert [s for s, _ in loki.requests] == [503, 204]
        assert "not delivered" not in err


def test_a_push_that_never_ends_does_not_hold_up_the_exit():
    with silent_server() as port:
        # a request timeout far beyond the run's deadline: only the drain's
        # deadline (the grace period) ends it
        result = run(["-e", policy("url = 'http://127.0.0.1:%d/push', timeout = 3600, batch_time = 0"
                                   % port, {"web": "echo lost"}, then="")],
                     env=env_for(LUASUP_GRACE_MS=1000))
    assert result.returncode == 0, result.stderr
    assert ("logs: http http://127.0.0.1:%d/push: 1 lines not delivered by the exit (still sending)"
            % port) in result.stderr


@pytest.mark.parametrize("options, message", [
    ("url = 'ftp://host/push'",
     "logs.http: invalid url 'ftp://host/push': scheme must be http or https"),
    ("url = 'http:///push'", "logs.http: invalid url 'http:///push': no host"),
    ("url = 'http://h/', full = 'block'",
     "logs.http: full = 'block' is only for console and file sinks"),
    ("url = 'http://h/', format = 'xml'",
     "bad argument #1 to 'logs.http' (option 'format': 'loki' or 'ndjson' expected, got 'xml')"),
    ("url = 'http://h/', labels = { stream = 'x' }",
     "bad argument #1 to 'logs.http' (option 'labels': 'stream' is set by each record)"),
    ("url = 'http://h/', timeout = 0",
     "bad argument #1 to 'logs.http' (option 'timeout': positive number of seconds expected, got 0)"),
])
def test_bad_options_fail_at_the_declaration(options, message):
    result = run(["-e", "require('logs').http{ %s }" % options])
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
