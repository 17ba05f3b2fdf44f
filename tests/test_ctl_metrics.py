"""Prometheus metrics (`sup.control{ metrics = '127.0.0.1:PORT' }`): GET
/metrics on loopback answers with each service's state, restarts, uptime,
CPU and RSS and the log records sinks dropped, as they are at the scrape;
any other request gets its HTTP error; an address that is not loopback, or
no prometheus-client, is one error line and control goes on without
metrics."""

import os
import re
import select
import socket
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from helpers import LOOPS, LUASUP, env_for, read_line, wait_until
from helpers.controlled import (ctl, errors, noted_imports, python_env, serving, services,
                                wait_restarted, wait_state)


ERROR = re.compile(r"^luasup: ctl: metrics: (.*)$")  # luasup's form for a core error


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_served(port):
    # the control socket, which serving() waits for, answers a moment
    # before the metrics' port is bound
    def accepts():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
            return True
        except ConnectionRefusedError:
            return False
    wait_until(accepts, what="the metrics port")


def scrape(port, path="/metrics"):
    """{(sample name, sorted labels): value} of one scrape."""
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def rss_of(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_the_metrics_follow_restarts_stops_and_usage():
    port = free_port()
    with serving("""
        sup.control{ metrics = '127.0.0.1:%d' }
        sup.service('victim', {cmd = {'sleep', '3600'}, restart = 'always', backoff = {initial = 0}})
        sup.service('busy', {cmd = {'sh', '-c', 'while :; do :; done'}})
    """ % port) as proc:
        wait_served(port)
        first = wait_state("victim", "running")
        wait_state("busy", "running")
        m = scrape(port)
        for name in ("victim", "busy"):
            assert value(m, "luasup_service_up", service=name) == 1
            assert value(m, "luasup_service_state", service=name, state="running") == 1
            assert sum(v for (n, labels), v in m.items()
                       if n == "luasup_service_state" and ("service", name) in labels) == 1
            assert value(m, "luasup_service_restarts_total", service=name) == 0
            assert value(m, "luasup_service_uptime_seconds", service=name) > 0
        rss = value(m, "luasup_service_memory_rss_bytes", service="victim")
        assert 0.5 < rss / rss_of(first["pid"]) < 2
        assert value(m, "luasup_memory_rss_bytes") > 1e6
        assert value(m, "luasup_cpu_seconds_total") > 0
        busy_cpu = value(m, "luasup_service_cpu_seconds_total", service="busy")
        wait_until(lambda: value(scrape(port), "luasup_service_cpu_seconds_total", service="busy")
                   > busy_cpu, what="busy's CPU seconds to grow")

        assert ctl("kill", "victim", "KILL").returncode == 0
        wait_restarted("victim", first["pid"])
        m = scrape(port)
        assert value(m, "luasup_service_restarts_total", service="victim") == 1 \
            == services()["victim"]["restarts"]

        assert ctl("stop", "busy").returncode == 0
        m = scrape(port)
        assert value(m, "luasup_service_state", service="busy", state="stopped") == 1
        assert value(m, "luasup_service_state", service="busy", state="running") == 0
        assert value(m, "luasup_service_up", service="busy") == 0
        for gone in ("luasup_service_uptime_seconds", "luasup_service_memory_rss_bytes",
                     "luasup_service_cpu_seconds_total"):
            assert value(m, gone, service="busy") is None
        assert proc.poll() is None


def test_records_a_full_sink_dropped_are_counted_as_the_sink_counts_them():
    port = free_port()
    with serving("""
        sup.control{ metrics = '127.0.0.1:%d', eval = true }
        -- a sink that takes one record and never finishes with it
        stuck = logs.fn(function() init.sleep(3600) end, {max_bytes = 200})
        logs.route{ to = { stuck } }
        -- many batches (one read each): the first taken, a few queued, the rest dropped
        sup.service('chatty', {cmd = {'sh', '-c',
            'for i in $(seq 100); do echo line $i; sleep 0.002; done; exec sleep 3600'}})
    """ % port):
        wait_served(port)

        def settled():
            dropped = ctl("eval", "stuck:stats().dropped").stdout.strip()
            samples = scrape(port)
            counted = [v for (n, labels), v in samples.items()
                       if n == "luasup_log_records_dropped_total"
                       and dict(labels)["sink"].startswith("function ")]
            return dropped not in ("", "0") and counted == [float(dropped)] and counted
        counted = wait_until(settled, what="the drops counted alike")
        assert 0 < counted[0] < 100


@pytest.mark.parametrize("loop", LOOPS)
def test_only_get_of_metrics_is_answered_and_a_silent_client_holds_no_one_up(loop):
    port = free_port()
    with serving("""
        sup.control{ metrics = '127.0.0.1:%d' }
        sup.service('web', {cmd = {'sleep', '3600'}})
    """ % port, env=env_for(loop)) as proc:
        wait_served(port)
        with pytest.raises(urllib.error.HTTPError) as e:
            scrape(port, "/")
        assert e.value.code == 404
        silent = socket.create_connection(("127.0.0.1", port))  # sends nothing
        try:
            assert raw(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")[:2] == [
                "HTTP/1.1 405 Method Not Allowed", "Allow: GET"]
            assert raw(port, b"nonsense\r\n\r\n")[0] == "HTTP/1.1 400 Bad Request"
            huge = b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n"
            assert raw(port, huge)[0] == "HTTP/1.1 431 Request Header Fields Too Large"
            many = b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 2000 + b"\r\n"
            assert raw(port, many)[0] == "HTTP/1.1 431 Request Header Fields Too Large"
            assert value(scrape(port), "luasup_service_up", service="web") == 1
            # what Prometheus asks for first
            ask = urllib.request.Request("http://127.0.0.1:%d/metrics" % port, headers={
                "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
            with urllib.request.urlopen(ask, timeout=10) as answer:
                assert answer.headers["Content-Type"].startswith("application/openmetrics-text")
                families = {f.name: f for f in openmetrics_families(answer.read().decode())}
            assert families["luasup_service_restarts"].type == "counter"
            assert families["luasup_service_up"].samples[0].value == 1
        finally:
            silent.close()
        assert proc.poll() is None
        assert "Traceback" not in errors(proc)


def test_connections_past_the_limit_are_closed_and_scrapes_work_once_they_are_gone():
    port = free_port()
    with serving("""
        sup.control{ metrics = '127.0.0.1:%d' }
        sup.service('web', {cmd = {'sleep', '3600'}})
    """ % port):
        wait_served(port)
        silent = []
        try:
            for _ in range(16):
                silent.append(socket.create_connection(("127.0.0.1", port)))
            # the 17th: closed unanswered, once luasup has taken the 16 in
            assert wait_until(lambda: raw(port, b"GET /metrics HTTP/1.1\r\n\r\n") == [""],
                              what="a connection past the limit refused")
        finally:
            for s in silent:
                s.close()

        def answered():  # luasup may not have seen the 16 go yet
            try:
                return value(scrape(port), "luasup_service_up", service="web") == 1
            except OSError:
                return False
        wait_until(answered, what="a scrape answered")


def raw(port, request):
    """The status line and the header lines after Content-Type/Length."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(request)
        except OSError:
            pass  # the answer came before all of a large request was taken
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    lines = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
    return [lines[0]] + [h for h in lines[1:] if not h.startswith(("Content-", "Connection:"))]


@pytest.mark.parametrize("address, why", [
    ("0.0.0.0:%d", "0.0.0.0:%d is not a loopback address, and the metrics have no authentication"
                   " (scrape 127.0.0.1 from beside luasup)"),
    ("example.com:%d", "'example.com:%d': the host must be a loopback address such as 127.0.0.1"),
    ("127.0.0.1", "'127.0.0.1': HOST:PORT expected, with a port from 1 to 65535"),
    ("127.0.0.1:%d", "cannot listen on 127.0.0.1:%d: the port is in use"),
])
def test_an_address_it_cannot_serve_is_one_error_line_and_control_goes_on(address, why):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        address = address % port if "%d" in address else address
        with serving("""
            sup.control{ metrics = '%s' }
            sup.service('web', {cmd = {'sleep', '3600'}})
        """ % address) as proc:
            wait_state("web", "running")
            lines = [line for line in errors(proc).splitlines() if "metrics" in line]
    assert len(lines) == 1
    assert ERROR.match(lines[0]).group(1) == "%s: not serving metrics" % (
        why % port if "%d" in why else why)


def test_control_keeps_its_events_when_metrics_cannot_be_served():
    with serving("""
        sup.control{ metrics = '0.0.0.0:%d' }
        sup.service('web', {cmd = {'sleep', '3600'}})
    """ % free_port()) as proc:
        wait_state("web", "running")
        events = subprocess.Popen([LUASUP, "ctl", "events"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env_for())
        try:
            def restarted_and_told():  # until the follower is in place, restarts go untold
                assert ctl("restart", "web").returncode == 0
                return select.select([events.stdout], [], [], 0.5)[0]
            wait_until(restarted_and_told, what="an event")
            assert re.search(r" web: \w+ -> \w+ ", read_line(events.stdout))
        finally:
            events.kill()
            events.wait()
        assert "not serving metrics" in errors(proc)


def test_without_prometheus_client_metrics_are_one_error_line(tmp_path):
    env = python_env(tmp_path, hide=["prometheus_client"])
    with serving("""
        sup.control{ metrics = '127.0.0.1:%d' }
        sup.service('web', {cmd = {'sleep', '3600'}})
    """ % free_port(), env=env) as proc:
        wait_state("web", "running")
        log = errors(proc)
    lines = [ERROR.match(line).group(1) for line in log.splitlines() if ERROR.match(line)]
    assert lines == ["prometheus-client is not installed (pip install 'luasup[metrics]'):"
                     " not serving metrics"]


def test_prometheus_client_is_imported_at_the_first_scrape_only(tmp_path):
    env = python_env(tmp_path, note=["prometheus_client"])
    with serving("sup.service('web', {cmd = {'sleep', '3600'}})", env=env):
        wait_state("web", "running")
    assert noted_imports(env) == []
    port = free_port()
    with serving("""
        sup.control{ metrics = '127.0.0.1:%d' }
        sup.service('web', {cmd = {'sleep', '3600'}})
    """ % port, env=env):
        wait_served(port)
        assert noted_imports(env) == []
        assert value(scrape(port), "luasup_service_up", service="web") == 1
        assert "prometheus_client" in noted_imports(env)
