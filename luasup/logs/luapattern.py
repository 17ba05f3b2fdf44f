"""Lua patterns translated into compiled `re` regexes, for the log bus's `match`.

A route (or a readiness watch) tests every line of child output against a
Lua pattern. Calling string.find through lupa once per line would cost more
than the rest of the routing, so the pattern is translated once into a bytes
regex that finds a line exactly when LuaJIT 2.1's `string.find(line,
pattern)` does.

Lua raises most pattern errors only when matching reaches the bad spot (and
"unfinished capture" only after a match); a route must fail when it is
declared, not on some later line, so every such error is raised here up
front, in Lua's own words. Character classes are explicit byte sets taken
from LuaJIT's ASCII tables (the C locale), never re's own `\\w` or `\\s`.
"""

import re

# string.find does a plain substring search when none of these occurs.
_SPECIALS = frozenset(b'^$*+?.([%-')
_QUANTIFIERS = frozenset(b'?*+-')
_MAX_CAPTURES = 32  # LUA_MAXCAPTURES
_MAX_DEPTH = 200  # LJ_MAX_XLEVEL: how deeply LuaJIT's matcher may recurse

_ALL = frozenset(range(256))


def _span(first, last):
    return frozenset(range(ord(first), ord(last) + 1))


_UPPER = _span('A', 'Z')
_LOWER = _span('a', 'z')
_DIGIT = _span('0', '9')
_GRAPH = _span('!', '~')
_ALNUM = _UPPER | _LOWER | _DIGIT
_CLASSES = {
    'a': _UPPER | _LOWER,
    'c': _span('\0', '\x1f') | {0x7f},
    'd': _DIGIT,
    'g': _GRAPH,
    'l': _LOWER,
    'p': _GRAPH - _ALNUM,
    's': _span('\t', '\r') | {0x20},
    'u': _UPPER,
    'w': _ALNUM,
    'x': _DIGIT | _span('A', 'F') | _span('a', 'f'),
    'z': frozenset({0}),
}
_CLASSES.update({k.upper(): _ALL - v for k, v in list(_CLASSES.items())})
_CLASSES = {ord(k): v for k, v in _CLASSES.items()}


def compile(pattern: bytes) -> re.Pattern:
    """The regex whose search() finds a line iff string.find(line, pattern) does.

    Raises ValueError where Lua would raise on some line, and for a
    balanced match between two different bytes, which no regex expresses."""
    if not _SPECIALS.intersection(pattern):
        return re.compile(re.escape(pattern))
    # LuaJIT's matcher reads the pattern as a C string: a NUL ends it.
    return re.compile(_Translation(pattern.split(b'\0', 1)[0]).regex)


class _Translation:
    """One left-to-right walk of a pattern, as LuaJIT's match() takes it."""

    def __init__(self, p):
        self.p = p
        self.out = []
        self.captures = []  # per capture: 'open', 'closed' or 'position'
        self.depth = 1  # match() calls nested at most, the outermost one too
        self.unsupported = None
        i = 0
        if p[:1] == b'^':
            self.out.append(rb'\A')
            i = 1
        while i < len(p):
            i = self._piece(i)
        if 'open' in self.captures:
            raise ValueError('unfinished capture')
        if self.unsupported:  # after the errors Lua itself would raise
            raise ValueError(self.unsupported)
        self.regex = b''.join(self.out)

    def _piece(self, i):
        p = self.p
        c, nxt = p[i], p[i + 1:i + 2]
        if c == ord('('):
            return self._open_capture(i, nxt == b')')
        if c == ord(')'):
            return self._close_capture(i)
        if c == ord('%') and nxt == b'b':
            return self._balance(i)
        if c == ord('%') and nxt == b'f':
            return self._frontier(i)
        if c == ord('%') and nxt.isdigit():
            return self._backref(i, nxt[0] - ord('0'))
        if c == ord('$') and i + 1 == len(p):
            self.out.append(rb'\Z')
            return i + 1
        return self._item(i)

    def _recurse(self):
        # Captures and quantified items each match the rest of the pattern
        # in a nested call; LuaJIT refuses past a fixed depth.
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ValueError('pattern too complex')

    def _open_capture(self, i, position):
        if len(self.captures) >= _MAX_CAPTURES:
            raise ValueError('too many captures')
        self._recurse()
        self.captures.append('position' if position else 'open')
        self.out.append(b'()' if position else b'(')
        return i + (2 if position else 1)

    def _close_capture(self, i):
        for level in reversed(range(len(self.captures))):
            if self.captures[level] == 'open':
                break
        else:
            raise ValueError('invalid pattern capture')
        self._recurse()
        self.captures[level] = 'closed'
        self.out.append(b')')
        return i + 1

    def _balance(self, i):
        args = self.p[i + 2:i + 4]
        if len(args) < 2:
            raise ValueError('unbalanced pattern')
        if args[0] != args[1]:
            self.unsupported = (
                "'%%b%s' is not supported in a log pattern: a regular "
                "expression cannot count nested pairs (%%b with two equal "
                "bytes, such as %%b\"\", is supported)" % args.decode('latin-1'))
            return i + 4
        # With equal characters the first repeat closes: no nesting to count.
        edge = _atom(frozenset(args[:1]))
        self.out.append(edge + _atom(_ALL - {args[0]}) + b'*' + edge)
        return i + 4

    def _frontier(self, i):
        if self.p[i + 2:i + 3] != b'[':
            raise ValueError("missing '[' after '%f' in pattern")
        end = _class_end(self.p, i + 2)
        members = _bracket(self.p[i + 2:end])
        # Lua takes the byte before the subject and the one after it as NUL.
        if 0 in members:
            self.out.append(b'(?<=' + _atom(_ALL - members) + b')')
            self.out.append(b'(?=' + _atom(members) + rb'|\Z)')
        else:
            self.out.append(b'(?<!' + _atom(members) + b')')
            self.out.append(b'(?=' + _atom(members) + b')')
        return end

    def _backref(self, i, index):
        if not 1 <= index <= len(self.captures) or self.captures[index - 1] == 'open':
            raise ValueError('invalid capture index')
        if self.captures[index - 1] == 'position':
            # A position capture's length reads as (size_t)-2: never matches.
            self.out.append(b'(?!)')
        else:
            self.out.append(b'(?:\\%d)' % index)
        return i + 2

    def _item(self, i):
        end = _class_end(self.p, i)
        self.out.append(_atom(_single(self.p[i:end])))
        quantifier = self.p[end:end + 1]
        if quantifier and quantifier[0] in _QUANTIFIERS:
            self._recurse()
            self.out.append(b'*?' if quantifier == b'-' else quantifier)
            return end + 1
        return end


def _class_end(p, i):
    """Where the single-character class at p[i] ends (LuaJIT's classend)."""
    c, i = p[i], i + 1
    if c == ord('%'):
        if i == len(p):
            raise ValueError("malformed pattern (ends with '%')")
        return i + 1
    if c != ord('['):
        return i
    if p[i:i + 1] == b'^':
        i += 1
    while True:  # the first byte is taken before any ']' can close the set
        if i == len(p):
            raise ValueError("malformed pattern (missing ']')")
        i += 2 if p[i] == ord('%') and i + 1 < len(p) else 1
        if p[i:i + 1] == b']':
            return i + 1


def _single(item):
    """The bytes one pattern item (`.`, `%x`, `[...]` or a byte) matches."""
    if item == b'.':
        return _ALL
    if item[0] == ord('%'):
        return _escape(item[1])
    if item[0] == ord('['):
        return _bracket(item)
    return frozenset(item)


def _escape(c):
    """What `%c` matches: a class for a class letter, else the byte c itself."""
    return _CLASSES.get(c, frozenset({c}))


def _bracket(text):
    """The bytes a set matches, from its '[' through its closing ']'.

    Indices follow LuaJIT's matchbracketclass, which can read that ']' as
    the byte escaped by a '%' just before it (as in `[a-%%]`)."""
    end = len(text) - 1
    negated = text[1:2] == b'^'
    i = 1 if negated else 0
    members = set()
    while (i := i + 1) < end:
        if text[i] == ord('%'):
            i += 1
            members |= _escape(text[i])
        elif text[i + 1] == ord('-') and i + 2 < end:
            members.update(range(text[i], text[i + 2] + 1))
            i += 2
        else:
            members.add(text[i])
    return _ALL - members if negated else frozenset(members)


def _atom(members):
    """A regex matching one byte of members, spelt out byte by byte."""
    if len(members) == 1:
        return re.escape(bytes(members))
    if not members:
        return rb'[^\x00-\xff]'  # unlike (?!), it takes a quantifier
    ranges = []
    for c in sorted(members):
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return b'[' + b''.join(
        b'\\x%02x' % lo if lo == hi else b'\\x%02x-\\x%02x' % (lo, hi)
        for lo, hi in ranges) + b']'
