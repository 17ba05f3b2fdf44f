"""Podman plumbing for the container tests: the machine set up by
../shared/container/setup-podman.sh, the image built from the project's
Dockerfile once per session, and containers with names of their own that
are removed by those names after each test.

Without podman's set-up (no script beside the repository, not root, the
script failing) the tests are skipped, unless CI is set: there they must
run, so they fail instead."""

import json
import os
import shlex
import subprocess
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETUP = os.path.join(REPO, os.pardir, "shared", "container", "setup-podman.sh")
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
# Its first run installs podman and builds a Debian image: minutes, not seconds.
SETUP_TIMEOUT = 900
BUILD_TIMEOUT = 900
RUN_TIMEOUT = 120

# Every process of the container as JSON, read from inside it. Processes a
# `podman exec` starts have parent 0: their parent is outside the container.
_PS = r"""
import json, os
procs = []
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    try:
        with open('/proc/%s/status' % pid) as f:
            fields = dict(l.rstrip('\n').split(':\t', 1) for l in f if ':\t' in l)
    except OSError:
        continue  # exited while we looked
    procs.append({'pid': int(pid), 'ppid': int(fields['PPid']),
                  'state': fields['State'][0], 'name': fields['Name']})
print(json.dumps(procs))
"""


def _unavailable(reason):
    if IN_CI:
        pytest.fail("container tests cannot run: %s (CI is set, so this fails"
                    " instead of skipping)" % reason, pytrace=False)
    pytest.skip("container tests skipped: %s" % reason)


def _exports(text):
    """{NAME: value} from the script's `export NAME=value` lines."""
    found = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            found[name] = value
    return found


class Podman:
    def __init__(self, env, build_flags):
        self.env = env
        self.build_flags = build_flags
        self.tag = "luasup-test-%s" % uuid.uuid4().hex[:12]
        self.images = []

    def __call__(self, *args, timeout=RUN_TIMEOUT, check=False):
        """Run `podman ARGS`; a CompletedProcess with text output."""
        proc = subprocess.run(["podman", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError("podman %s exited %d:\n%s%s" % (
                shlex.join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def build(self, variant, *build_args):
        """The image as Docker builds it: podman's default OCI format would
        drop the Dockerfile's HEALTHCHECK."""
        image = "localhost/%s-%s:latest" % (self.tag, variant)
        self.images.append(image)
        self("build", *self.build_flags, "--format", "docker", *build_args, "--tag", image,
             REPO, timeout=BUILD_TIMEOUT, check=True)
        return image

    def run(self, name, image, *args, flags=(), detach=False, health=False):
        """`podman run` with no network: to its end (and removed), or with
        detach, until it has started. Without health, the image's
        HEALTHCHECK is off: podman would try to schedule it with systemd
        and write its failure to do so on the container's stderr."""
        mode = "--detach" if detach else "--rm"
        if not health:
            flags = ("--no-healthcheck", *flags)
        return self("run", mode, "--network=none", "--name", name, *flags, image, *args,
                    check=detach)

    def processes(self, container):
        """Every process in `container`: dicts of pid, ppid, state, name."""
        out = self("exec", container, "python3", "-c", _PS, check=True).stdout
        return json.loads(out)

    def inspect(self, container, template):
        return self("inspect", "--format", template, container, check=True).stdout.strip()

    def remove_images(self):
        if self.images:
            self("rmi", "--force", "--ignore", *self.images, timeout=BUILD_TIMEOUT)


@pytest.fixture(scope="session")
def podman():
    if not os.path.isfile(SETUP):
        _unavailable("no %s beside the repository" % os.path.normpath(SETUP))
    if os.geteuid() != 0:
        _unavailable("%s must run as root" % os.path.normpath(SETUP))
    try:
        setup = subprocess.run(["bash", SETUP], cwd=REPO, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=SETUP_TIMEOUT)
    except subprocess.TimeoutExpired:
        _unavailable("setup-podman.sh did not finish in %d s" % SETUP_TIMEOUT)
    exports = _exports(setup.stdout)
    wanted = ("CONTAINERS_CONF", "LUASUP_BASE_IMAGE", "PODMAN_BUILD_FLAGS")
    if setup.returncode != 0 or any(name not in exports for name in wanted):
        _unavailable("setup-podman.sh exited %d:\n%s" % (setup.returncode, setup.stderr[-3000:]))
    env = dict(os.environ, CONTAINERS_CONF=exports["CONTAINERS_CONF"],
               LUASUP_BASE_IMAGE=exports["LUASUP_BASE_IMAGE"])
    pod = Podman(env, shlex.split(exports["PODMAN_BUILD_FLAGS"]))
    yield pod
    pod.remove_images()


@pytest.fixture(scope="session")
def image(podman):
    """The image as users build it: root, default CMD."""
    return podman.build("default")


@pytest.fixture(scope="session")
def nonroot_uid():
    return 10001


@pytest.fixture(scope="session")
def nonroot_image(podman, nonroot_uid):
    """The image built to run as a uid of its own (`LUASUP_UID`)."""
    return podman.build("nonroot", "--build-arg", "LUASUP_UID=%d" % nonroot_uid)


@pytest.fixture
def container(podman):
    """`container("what")` -> a fresh container name; every name handed out
    is removed (by that exact name) when the test ends."""
    names = []

    def name(what):
        names.append("%s-%s-%s" % (podman.tag, what, uuid.uuid4().hex[:6]))
        return names[-1]

    yield name
    if names:
        podman("rm", "--force", "--ignore", "--time", "0", *names)
