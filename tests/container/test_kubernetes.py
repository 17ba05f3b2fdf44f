"""The pod spec of docs/kubernetes.md, read from the page and run for real
with `podman kube play`: luasup as the pod's entrypoint, `luasup ctl
health` as the liveness probe (podman makes it the container's
healthcheck), `luasup ctl ready` as the readiness probe (podman ignores
it: its command runs through `podman exec`), and a stop as the kubelet
makes it."""

import json
import os
import re
import uuid

import pytest

from helpers import REPO, wait_until

pytestmark = pytest.mark.xdist_group("container")  # one worker builds the image, once

DOC = os.path.join(REPO, "docs", "kubernetes.md")
DEADLINE = 60.0
# The doc's stand-in application: its /healthz is this file.
HEALTHZ = "/srv/www/healthz"


def doc_yaml():
    """The YAML block of the page's "A pod" section."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("\n## A pod\n"):]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def probe_command(yaml, probe):
    """The exec command of `probe` (a JSON-style list in the page)."""
    block = yaml[yaml.index("%s:" % probe):]
    return json.loads(re.search(r"command: (\[.*\])", block).group(1))


def grace(yaml):
    """(terminationGracePeriodSeconds, LUASUP_GRACE_MS) of the pod."""
    period = re.search(r"terminationGracePeriodSeconds: (\d+)", yaml).group(1)
    grace_ms = re.search(r"name: LUASUP_GRACE_MS\n\s+value: \"(\d+)\"", yaml).group(1)
    return int(period), int(grace_ms)


def for_podman(yaml, image, pod):
    """The page's YAML with the locally built image and a pod name of the
    test's own; each must be replaced exactly once."""
    yaml, images = re.subn(r"^(\s+image:) \S+$", r"\1 " + image, yaml, flags=re.M)
    yaml, names = re.subn(r"^(  name:) luasup-demo$", r"\1 " + pod, yaml, flags=re.M)
    assert (images, names) == (1, 1), "the page's YAML changed shape: %d images, %d pod names" % (
        images, names)
    return yaml


@pytest.fixture
def pod(podman, tmp_path):
    """`pod(image)` -> (pod name, container name) of the page's pod, played;
    the pod is removed by its name when the test ends."""
    name = "%s-kube-%s" % (podman.tag, uuid.uuid4().hex[:6])
    played = []

    def play(image):
        spec = tmp_path / "pod.yaml"
        spec.write_text(for_podman(doc_yaml(), image, name))
        played.append(name)
        podman("kube", "play", "--network", "none", str(spec), check=True)
        return name, name + "-app"

    yield play
    if played:
        podman("pod", "rm", "--force", "--ignore", name)


def test_the_pod_gives_luasup_its_grace_period_and_a_margin():
    period, grace_ms = grace(doc_yaml())
    assert period >= grace_ms / 1000 + 2, (period, grace_ms)


def test_the_probes_fail_while_the_critical_service_fails_and_pass_once_it_recovers(
        podman, image, pod):
    yaml = doc_yaml()
    health, ready = probe_command(yaml, "livenessProbe"), probe_command(yaml, "readinessProbe")
    name, app = pod(image)

    def probe(command):
        return podman("exec", app, *command).returncode

    def healthcheck(expected):
        """podman's run of the liveness probe: its code and what it recorded."""
        run = podman("healthcheck", "run", app)
        state = json.loads(podman.inspect(app, "{{json .State.Health}}"))
        assert run.returncode == expected, (run.stdout, run.stderr, state)
        return state

    wait_until(lambda: probe(ready) == 0, DEADLINE, "the pod to be ready")
    assert healthcheck(0)["Status"] == "healthy"

    podman("exec", app, "rm", HEALTHZ, check=True)
    wait_until(lambda: probe(health) == 1, DEADLINE, "the liveness probe to fail")
    state = healthcheck(1)
    # one failure of failureThreshold: podman's restart waits for the third
    assert state["FailingStreak"] == 1
    assert state["Log"][-1]["Output"].startswith("luasup ctl: web: "), state["Log"][-1]
    # after its 3 failed health checks luasup restarts web, which is not
    # ready while /healthz is missing
    wait_until(lambda: probe(ready) == 1, DEADLINE, "the readiness probe to fail")
    assert probe(health) == 1

    podman("exec", app, "touch", HEALTHZ, check=True)
    wait_until(lambda: probe(ready) == 0, DEADLINE, "the pod to be ready again")
    state = healthcheck(0)
    assert (state["Status"], state["FailingStreak"]) == ("healthy", 0)
    # the ring the policy keeps beside stdout
    assert "working" in podman("exec", app, "luasup", "ctl", "logs", "worker", check=True).stdout

    # stopped as the kubelet stops it: SIGTERM, SIGKILL after the period
    period, _ = grace(yaml)
    podman("stop", "--time", str(period), app, timeout=period + 60, check=True)
    assert podman.inspect(app, "{{.State.ExitCode}}") == "143"
    logs = podman("logs", app)
    assert "worker | working\n" in logs.stdout
    for line in ("luasup: warning: service web: health check failed (3 of 3): HTTP 404",
                 "luasup: service web: running",
                 "luasup: supervise: stopping all services (received SIGTERM)"):
        assert line in logs.stderr, line
