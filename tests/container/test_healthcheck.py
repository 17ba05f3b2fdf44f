"""The image's HEALTHCHECK: `luasup ctl health` where a policy serves the
control socket, a pass where luasup serves none (a plain script, `luasup --
CMD`), a failure where a socket file answers nothing. Run by podman as
Docker would run it: `podman healthcheck run` (no systemd schedules it
here)."""

import json
import os
import re

import pytest

from helpers import REPO, wait_until

pytestmark = pytest.mark.xdist_group("container")  # one worker builds the image, once

DEADLINE = 60.0
POLICY = """
local sup = require('supervise')
sup.service('web', {cmd = {'sleep', '3600'}, critical = true})
return sup.run()
"""


def read(*path):
    with open(os.path.join(REPO, *path), encoding="utf-8") as f:
        return f.read()


def test_the_healthcheck_in_the_docs_is_the_dockerfiles():
    shown = re.search(r"```dockerfile\n(HEALTHCHECK .*?)```", read("docs", "kubernetes.md"),
                      re.S).group(1)
    assert shown in read("Dockerfile")


def healthcheck(podman, name, expected):
    """Run the image's check once; the last entry of its log."""
    run = podman("healthcheck", "run", name)
    health = json.loads(podman.inspect(name, "{{json .State.Health}}"))
    assert run.returncode == expected, (run.stdout, run.stderr, health)
    return health["Log"][-1]


@pytest.mark.parametrize("user", ["root", "uid-at-run-time", "uid-of-the-build"])
def test_a_policy_is_healthy_while_its_critical_service_runs(request, podman, container,
                                                             nonroot_uid, user):
    """Run as root, as a uid given to `podman run` (its socket in /tmp), and
    as the uid of a LUASUP_UID build (its socket in /run/luasup, which
    that uid owns): the check, run as the container's user, finds it."""
    name = container("policy")
    if user == "uid-of-the-build":
        image, flags = request.getfixturevalue("nonroot_image"), []
    else:
        image = request.getfixturevalue("image")
        flags = ["--user=%d:%d" % (nonroot_uid, nonroot_uid)] if user == "uid-at-run-time" else []
    podman.run(name, image, POLICY, detach=True, health=True, flags=flags)
    # before sup.run() serves the socket the check passes: wait for luasup's answer
    wait_until(lambda: podman("exec", name, "luasup", "ctl", "health").returncode == 0,
               DEADLINE, "luasup to answer in %s" % name)
    healthcheck(podman, name, 0)
    podman("exec", name, "luasup", "ctl", "stop", "web", check=True)
    assert healthcheck(podman, name, 1)["Output"].startswith("luasup ctl: web: stopped")
    podman("exec", name, "luasup", "ctl", "start", "web", check=True)
    healthcheck(podman, name, 0)
    if user == "uid-of-the-build":  # and root's `podman exec` finds it too
        assert podman("exec", "--user=0", name, "luasup", "ctl", "health").returncode == 0


def test_without_a_control_socket_the_check_passes_and_a_dead_one_fails(podman, image,
                                                                       container):
    name = container("nosocket")
    podman.run(name, image, "--", "sleep", "3600", detach=True, health=True)
    healthcheck(podman, name, 0)
    # a socket file where `luasup ctl` looks, that no luasup answers
    bind = ("import os, socket; os.makedirs('/run/luasup', exist_ok=True); "
            "socket.socket(socket.AF_UNIX).bind('/run/luasup/ctl.sock')")
    podman("exec", name, "python3", "-c", bind, check=True)
    assert healthcheck(podman, name, 1)["Output"].startswith(
        "luasup ctl: cannot reach luasup at /run/luasup/ctl.sock")
