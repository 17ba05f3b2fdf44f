"""`luasup ctl repl`: Lua entries run inside the policy over one connection
(globals kept between entries), values printed, errors printed and not
fatal, unfinished statements continued; prompts and history on a
terminal, values only from a pipe; a refusal ends it at once with 3."""

import os
import shutil
import subprocess
import tempfile

from helpers import LUASUP, env_for, read_line
from helpers.ctl import NOBODY
from helpers.controlled import Terminal, ctl, serving, services

EVAL = """
    sup.control{ eval = true }
    sup.service('web', {cmd = {'sleep', '3600'}})
"""


def test_piped_entries_keep_their_globals_and_print_values_and_errors():
    with serving(EVAL):
        result = ctl("repl", input="\n".join([
            "x = 20",
            "x + 1",
            "local a, b = 1, 2",  # a local lives for its entry only
            "a",
            "error('boom')",
            "x * 2, 'two'",
            "{ n = x }",
            "sup.status('web').state",
        ]) + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "21\nnil\n40\ttwo\n{ n = 20 }\nrunning\n"
    assert "boom" in result.stderr
    assert "luasup> " not in result.stdout + result.stderr


def test_an_unfinished_statement_goes_on_until_it_is_complete_or_input_ends():
    with serving(EVAL):
        result = ctl("repl", input="\n".join([
            "function twice(n)",
            "  return n * 2",
            "end",
            "if twice(2) == 4 then",
            "  return 'four'",
            "end",
            "s = [[a",
            "b]]",
            "#s",
            "twice(",
        ]) + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "four\n3\n"
    # the last entry never ended: its syntax error is the one message
    assert result.stderr.strip().splitlines() == ["eval:1: unexpected symbol near '<eof>'"]


def test_without_eval_in_the_policy_repl_ends_at_once_with_3():
    with serving("sup.service('web', {cmd = {'sleep', '3600'}})"):
        result = ctl("repl", input="1 + 1\n")
        assert services()["web"]["state"] == "running"
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == ("luasup ctl: permission denied: the policy does not enable eval"
                             " (sup.control{eval = true})\n")


def test_a_user_other_than_root_is_refused_even_with_full_access(monkeypatch):
    # a socket in a directory that nobody may traverse to
    shared = tempfile.mkdtemp(prefix="luasup-repl-")
    os.chmod(shared, 0o711)
    monkeypatch.setenv("LUASUP_CTL", os.path.join(shared, "ctl", "ctl.sock"))
    try:
        with serving("sup.control{ eval = true, allow = { nobody = 'full' } }\n"
                     "sup.service('web', {cmd = {'sleep', '3600'}})"):
            result = subprocess.run(NOBODY + [LUASUP, "ctl", "repl"], input="1 + 1\n", env=env_for(),
                                    capture_output=True, text=True, timeout=30)
            assert ctl("repl", input="1 + 1\n").stdout == "2\n"  # root may
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert result.stderr == "luasup ctl: permission denied: eval is for root only\n"


def test_on_a_terminal_prompts_continue_and_ctrl_d_ends_keeping_history(tmp_path):
    env = env_for(HOME=str(tmp_path))
    with serving(EVAL):
        term = Terminal(["repl"], env=env, controlling=True)
        try:
            term.expect(rb"luasup> ")
            term.send(b"y = 6 * 7\r")
            term.expect(rb"luasup> ")
            term.send(b"if y then\r")
            term.expect(rb"\n>> ")
            term.send(b"return y\r")
            term.expect(rb"\n>> ")
            term.send(b"end\r")
            term.expect(rb"\n42\r\nluasup> ")
            term.send(b"nosuch()\r")
            term.expect(rb"(?s)attempt to call global 'nosuch'.*\nluasup> ")
            term.send(b"z = \r")
            term.expect(rb"\n>> ")
            interrupt(term)  # Ctrl-C drops the unfinished entry
            term.send(b"y\r")
            term.expect(rb"\n42\r\nluasup> ")
            term.send(b"\x04")  # Ctrl-D
            assert term.wait() == 0
        finally:
            term.close()
    history = (tmp_path / ".luasup_history").read_text().splitlines()
    assert history[:4] == ["y = 6 * 7", "if y then", "return y", "end"]
    assert history[-1] == "y"


def test_a_connection_luasup_closed_is_made_again_saying_the_globals_are_gone():
    repl = None
    try:
        with serving(EVAL):
            repl = subprocess.Popen([LUASUP, "ctl", "repl"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env_for())
            repl.stdin.write("x = 5\nx\n")
            repl.stdin.flush()
            assert read_line(repl.stdout) == "5\n"
        # that luasup is gone (killed: its socket file is left); another serves the path
        with serving(EVAL):
            out, err = repl.communicate("x\n'again'\n", timeout=30)
    finally:
        if repl is not None:
            repl.kill()
            repl.wait()
    assert repl.returncode == 0, err
    assert out == "nil\nagain\n"
    assert err == ("luasup ctl: luasup closed the connection; connected again"
                   " (globals set before are gone)\n")


def interrupt(term):
    """Ctrl-C, until a new prompt shows: CPython's readline misses a SIGINT
    that comes between its prompt and its wait for a key (a user presses
    Ctrl-C again)."""
    for _ in range(10):
        term.send(b"\x03")
        try:
            return term.expect(rb"\nluasup> ", timeout=3)
        except AssertionError:
            pass
    raise AssertionError("Ctrl-C never gave a new prompt")


def test_no_luasup_is_exit_3():
    result = ctl("repl", input="1\n")
    assert result.returncode == 3
    assert result.stderr.startswith("luasup ctl: cannot reach luasup at ")
    assert len(result.stderr.splitlines()) == 1
