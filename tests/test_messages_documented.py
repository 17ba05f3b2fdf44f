"""Every message luasup logs is listed in README.md's Messages table: the
README is the one place where people find what they may grep for."""

import ast
import glob
import os
import re

from helpers import REPO

LEVELS = {"fatal", "error", "warn", "info", "debug"}


def logged_formats():
    """(file, format string) of every log.LEVEL("...") call in luasup/ and
    its subpackages (luasup/logs/ ...)."""
    for path in sorted(glob.glob(os.path.join(REPO, "luasup", "**", "*.py"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            if not (isinstance(func, ast.Attribute) and func.attr in LEVELS
                    and isinstance(func.value, ast.Name) and func.value.id == "log"):
                continue
            text = node.args[0]
            if isinstance(text, ast.BinOp) and isinstance(text.op, ast.Mod):
                text = text.left
            if isinstance(text, ast.Constant) and isinstance(text.value, str):
                yield os.path.relpath(path, os.path.join(REPO, "luasup")), text.value


def pieces(fmt):
    """The words of a message, without its %-placeholders."""
    return [p.strip(" :;(),") for p in re.split(r"%[-0-9.]*[sdrfg]", fmt)]


def undocumented(formats, doc):
    """'FORMAT (PIECE)' for every piece of a format that doc does not hold."""
    return ["%r (%r)" % (fmt, piece) for fmt in formats for piece in pieces(fmt)
            if len(piece) > 1 and piece not in doc]


def messages_section():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    start = readme.index("\n## Messages\n")
    return readme[start:readme.index("\n## ", start + 1)]


def test_every_logged_message_is_in_the_readme():
    section = messages_section()
    missing = []
    for path, fmt in logged_formats():
        longest = max(pieces(fmt), key=len)
        if longest and longest not in section:
            missing.append("%s: %r" % (path, fmt))
    assert not missing, "README.md's Messages table lacks:\n" + "\n".join(missing)


def test_the_check_sees_the_log_calls():
    formats = [fmt for _, fmt in logged_formats()]
    assert "error in task %s: %s" in formats
    assert "logs: %s dropped %d lines (%d bytes) while full" in formats  # luasup/logs/ too
    assert "ctl: %s: not serving control" in formats  # and luasup/ctl/
    assert len(formats) >= 15
