"""`luasup ctl repl`: a Lua prompt inside the running policy. Each entry
is one `eval` over one connection, whose globals the server keeps, so
`x = 1` and then `x` work as in the lua REPL.

On a terminal: prompts (`luasup> `, `>> ` while a statement is unfinished)
and readline history, kept in ~/.luasup_history. With stdin from a pipe or
a file: no prompts, only the values and errors, so a script of entries can
be fed to it. Lua errors are printed and the REPL goes on; end of input
ends it with 0; a refusal (eval not enabled, not root) ends it at once.
A connection luasup closed while the prompt sat idle is made again (its
globals are then gone, and the REPL says so)."""

import os
import sys

from .client import Client
from .protocol import LUA_ERROR, PERMISSION_DENIED, Failure

PROMPT, MORE = "luasup> ", ">> "
HISTORY = os.path.join(os.path.expanduser("~"), ".luasup_history")
HISTORY_LINES = 1000


def run(client):
    # a refusal is known before anything is typed; an empty chunk runs nothing
    client.call("eval", {"code": ""})
    terminal = sys.stdin.isatty()
    if terminal:
        _load_history()
    session = _Session(client)
    try:
        _loop(session, terminal)
    finally:
        session.close()
        if terminal:
            _save_history()
    return 0


class _Session:
    """The connection entries go over, made again if luasup closed it."""

    def __init__(self, client):
        self.first = self.client = client

    def eval(self, code):
        if self.client.closed():
            again = Client(self.client.path, self.client.timeout)
            if self.client is not self.first:
                self.client.close()
            self.client = again
            sys.stderr.write("luasup ctl: luasup closed the connection; connected again"
                             " (globals set before are gone)\n")
        return self.client.call("eval", {"code": code})

    def close(self):
        if self.client is not self.first:  # the first is its opener's to close
            self.client.close()


def _loop(session, terminal):
    entry = []  # the lines of an unfinished statement
    while True:
        try:
            line = _read(MORE if entry else PROMPT, terminal)
            if line is None:
                if entry:  # cut short by the end of input: say what is wrong with it
                    _eval(session, "\n".join(entry), final=True)
                if terminal:
                    sys.stdout.write("\n")
                return
            entry.append(line)
            code = "\n".join(entry)
            if not code.strip() or _eval(session, code, final=False):
                entry = []
        except KeyboardInterrupt:
            if not terminal:
                raise
            # as in lua and python: drop the entry (an eval already sent
            # runs on, bounded by the server; its answer is skipped)
            sys.stdout.write("\n")
            entry = []


def _read(prompt, terminal):
    """One line without its newline, or None at the end of input."""
    if terminal:
        try:
            return input(prompt)
        except EOFError:
            return None
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


def _eval(session, code, final):
    """Send code, print what comes back; False when it is an unfinished
    statement waiting for more lines."""
    try:
        result = session.eval(code)
    except Failure as e:
        if e.code == PERMISSION_DENIED:
            raise
        if e.code == LUA_ERROR and _unfinished(e.message) and not final:
            return False
        sys.stderr.write(e.message.rstrip("\n") + "\n")
        sys.stderr.flush()
        return True
    if result["values"]:
        sys.stdout.write("\t".join(result["values"]) + "\n")
        sys.stdout.flush()
    return True


def _unfinished(message):
    # what lua.c checks: a syntax error at the end of the chunk
    return message.endswith("'<eof>'") and "\n" not in message


def _load_history():
    import readline
    readline.set_history_length(HISTORY_LINES)
    try:
        readline.read_history_file(HISTORY)
    except OSError:
        pass


def _save_history():
    import readline
    try:
        readline.write_history_file(HISTORY)
    except OSError:
        pass
