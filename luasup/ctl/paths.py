"""Where the control socket is: the same rule for luasup and `luasup ctl`,
so a client run as the same user finds the server without being told."""

import os

ENV = "LUASUP_CTL"
ROOT_PATH = "/run/luasup/ctl.sock"


def default(environ=os.environ, uid=None):
    """LUASUP_CTL; else /run/luasup/ctl.sock for root, and for the user who
    owns /run/luasup (an image made for a non-root uid creates it for that
    uid, so root's `docker exec` finds the socket too); else a directory of
    the user's own (XDG_RUNTIME_DIR, or /tmp/luasup-UID)."""
    if environ.get(ENV):
        return environ[ENV]
    uid = os.getuid() if uid is None else uid
    try:
        owner = os.stat(os.path.dirname(ROOT_PATH)).st_uid
    except OSError:
        owner = 0
    if uid == 0 or uid == owner:
        return ROOT_PATH
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "luasup", "ctl.sock")
    return "/tmp/luasup-%d/ctl.sock" % uid
