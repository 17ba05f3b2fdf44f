"""Where the control socket is: the same rule for luasup and `luasup ctl`,
so a client run as the same user finds the server without being told."""

import os

ENV = "LUASUP_CTL"
ROOT_PATH = "/run/luasup/ctl.sock"


def default(environ=os.environ, uid=None):
    """LUASUP_CTL; else /run/luasup/ctl.sock for root; else a directory of
    the user's own (XDG_RUNTIME_DIR, or /tmp/luasup-UID): /run is root's."""
    if environ.get(ENV):
        return environ[ENV]
    uid = os.getuid() if uid is None else uid
    if uid == 0:
        return ROOT_PATH
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "luasup", "ctl.sock")
    return "/tmp/luasup-%d/ctl.sock" % uid
