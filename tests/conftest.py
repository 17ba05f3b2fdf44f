import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _clean_inherited_signal_state():
    """Tests check the signal state luasup hands its children, which starts
    from the state luasup itself was given: the runner must not pass on
    what it inherited (nohup's ignored SIGHUP, a blocked mask). SIGPIPE and
    SIGXFSZ are Python's own, and subprocess restores them in children."""
    for signo in signal.valid_signals():
        if signo in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(signo) == signal.SIG_IGN:
                signal.signal(signo, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # one glibc keeps for itself
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


_clean_inherited_signal_state()


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _own_control_socket(tmp_path, monkeypatch):
    """Each test's luasup serves its control socket at a path of its own:
    tests run in parallel, and /run/luasup/ctl.sock is one path."""
    monkeypatch.setenv("LUASUP_CTL", str(tmp_path / "ctl.sock"))
