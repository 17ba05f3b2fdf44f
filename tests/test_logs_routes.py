"""logs.route: routes are tried in order, a record goes to the sinks of every
route that matches it (each sink once) until a drop or final route matches
it; a record no route matches goes to the default console (`{name} | `)."""

import pytest

from helpers import env_for, lua_quote
from helpers.logfiles import WAIT_FOR, numbered, policy

# each child writes 'o' on stdout and 'e' on stderr
CHILDREN = ("local function run(name) init.exec{ 'sh', '-c', 'echo o; echo e >&2', name = name,"
            " stdout = 'log', stderr = 'log' }:status() end\n")


def routed(tmp_path, routes, names, sinks="abc"):
    """Run children `names` under `routes` (Lua, with file sinks a, b, c
    in scope): each sink's lines ('NAME.STREAM LINE'), sorted, and what
    reached the console that is not luasup's own."""
    body = "".join("local %s = logs.file{ path = %s, prefix = '{name}.{stream} ' }\n"
                   % (s, lua_quote(str(tmp_path / s))) for s in sinks)
    body += routes + "\n" + CHILDREN + "".join("run(%s)\n" % lua_quote(n) for n in names)
    result = policy(body)
    assert result.returncode == 0, result.stderr
    got = {}
    for s in sinks:
        with open(tmp_path / s) as f:
            got[s] = sorted(f.read().splitlines())
    console = sorted(result.stdout.splitlines() + [
        line for line in result.stderr.splitlines() if not line.startswith("luasup: ")])
    return got, console


def test_by_name_as_a_string_or_a_list_and_by_stream(tmp_path):
    got, console = routed(tmp_path, """
        logs.route{ name = 'web', to = a }
        logs.route{ name = { 'web', 'db' }, stream = 'stderr', to = b }
        logs.route{ name = { 'db' }, stream = 'stdout', to = c }
    """, ["web", "db", "other"])
    assert got == {"a": ["web.stderr e", "web.stdout o"],
                   "b": ["db.stderr e", "web.stderr e"],
                   "c": ["db.stdout o"]}
    assert console == ["other | e", "other | o"]  # no route matched: the default console


def test_every_matching_route_until_a_final_one(tmp_path):
    got, console = routed(tmp_path, """
        logs.route{ name = 'web', to = a }
        logs.route{ name = 'web', stream = 'stderr', final = true, to = b }
        logs.route{ to = c }
    """, ["web", "db"])
    assert got == {"a": ["web.stderr e", "web.stdout o"],
                   "b": ["web.stderr e"],
                   "c": ["db.stderr e", "db.stdout o", "web.stdout o"]}
    assert console == []


def test_a_drop_route_discards_what_it_matches_past_it(tmp_path):
    got, console = routed(tmp_path, """
        logs.route{ name = 'noisy', to = a }
        logs.route{ name = 'noisy', stream = 'stdout', drop = true }
        logs.route{ to = b }
    """, ["noisy", "web"])
    assert got == {"a": ["noisy.stderr e", "noisy.stdout o"],
                   "b": ["noisy.stderr e", "web.stderr e", "web.stdout o"],
                   "c": []}
    assert console == []


def test_a_record_goes_to_each_of_many_sinks_once(tmp_path):
    got, console = routed(tmp_path, """
        logs.route{ to = { a, b } }
        logs.route{ name = 'web', to = { b, c } }
        logs.route{ stream = 'stdout', to = a }
    """, ["web"])
    assert got == {s: ["web.stderr e", "web.stdout o"] for s in "abc"}
    assert console == []


def test_a_sink_listed_twice_in_one_route_gets_a_record_once(tmp_path):
    got, _ = routed(tmp_path, "logs.route{ to = { a, a } }", ["web"], sinks="a")
    assert got == {"a": ["web.stderr e", "web.stdout o"]}


def test_with_no_route_every_record_goes_to_the_default_console(tmp_path):
    got, console = routed(tmp_path, "", ["web", "db"])
    assert got == {s: [] for s in "abc"}  # declared, but routed nothing
    assert console == ["db | e", "db | o", "web | e", "web | o"]


def lines_routed(tmp_path, routes, lines, sinks="ab", **kw):
    """One child named w writing `lines` on stdout under `routes` (Lua, with
    file sinks a, b in scope, no prefix): each sink's lines, and the
    console's, in order."""
    body = "".join("local %s = logs.file{ path = %s }\n" % (s, lua_quote(str(tmp_path / s)))
                   for s in sinks)
    body += routes + "\ninit.exec{ 'cat', %s, name = 'w', stdout = 'log' }:status()\n" % (
        lua_quote(str(tmp_path / "input")))
    with open(tmp_path / "input", "w") as f:
        f.write("".join(line + "\n" for line in lines))
    result = policy(body, **kw)
    assert result.returncode == 0, result.stderr
    got = {}
    for s in sinks:
        with open(tmp_path / s) as f:
            got[s] = f.read().splitlines()
    return got, result.stdout.splitlines()


def test_a_pattern_route_takes_only_the_lines_it_matches(tmp_path):
    got, console = lines_routed(tmp_path, """
        logs.route{ match = '^DEBUG', drop = true }
        logs.route{ match = 'ERROR', to = a }
        logs.route{ name = 'w', match = 'code %d%d%d$', to = b }
        logs.route{ match = 'nothing matches this', to = b }
    """, ["INFO start", "DEBUG ERROR dropped", "ERROR disk full", "code 500", "code 5000 ERROR",
          "INFO end"])
    assert got == {"a": ["ERROR disk full", "code 5000 ERROR"], "b": ["code 500"]}
    assert console == ["w | INFO start", "w | INFO end"]  # matched by no route


def test_a_final_pattern_route_stops_only_the_lines_it_matches(tmp_path):
    got, console = lines_routed(tmp_path, """
        logs.route{ match = 'ERROR', final = true, to = a }
        logs.route{ to = b }
    """, ["one", "ERROR two", "three"])
    assert got == {"a": ["ERROR two"], "b": ["one", "three"]}
    assert console == []


@pytest.mark.parametrize("pattern,matched", [
    ("%[warn%]", ["[warn] x"]),
    ("^%s*$", ["", "   "]),
    ("a.-b", ["a to b", "x a|b y"]),
    ("^[%a_]+=%d+$", ["key_a=12"]),
    ("a|b", ["x a|b y"]),  # literal in Lua, alternation in a regex
    ("x{2}", ["x{2}"]),
    ("100%%", ["100%"]),
    ("%.log$", ["app.log"]),
    ("^%u%l+ %(%w+%)$", ["Name (x1)"]),
], ids=["escaped-brackets", "blank", "lazy", "class", "bar", "brace", "percent", "dot", "parens"])
def test_lua_pattern_syntax(tmp_path, pattern, matched):
    lines = ["[warn] x", "", "   ", "a to b", "key_a=12", "x a|b y", "a", "x{2}", "xx", "100%",
             "app.log", "applog", "Name (x1)", "name (x1)"]
    got, _ = lines_routed(tmp_path, "logs.route{ match = %s, final = true, to = a }\nlogs.route{ to = b }"
                          % lua_quote(pattern), lines)
    assert got["a"] == matched
    assert got["b"] == [line for line in lines if line not in matched]


def test_a_bad_pattern_is_an_error_at_its_declaration():
    result = policy("local f = logs.ring{}\nlogs.route{ match = '[a', to = f }\nprint('not reached')")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(
        "luasup: error in task main: (command line):3: logs.route: bad pattern '[a': ")
    assert "Traceback" not in result.stderr


def test_a_pattern_route_keeps_a_line_whole(tmp_path):
    # the line's head matches; its end, cut at the cap, must follow it
    got, _ = lines_routed(tmp_path, "logs.route{ match = 'ERROR', to = a }\nlogs.route{ to = b }",
                          ["ERROR 0123456789abc", "INFO x", "ERROR second"], env=env_for(LUASUP_LINE_BYTES=10))
    assert got == {"a": ["ERROR 0123456789abc", "ERROR second"],
                   "b": ["ERROR 0123456789abc", "INFO x", "ERROR second"]}


def test_pattern_routes_split_big_batches_line_by_line(tmp_path):
    # ten fast writers: each read is a batch of thousands of lines that the
    # routes take apart, and each sink gets its lines once, in order
    names, count = ["c%d" % i for i in range(1, 11)], 20000
    body = "".join("local %s = logs.file{ path = %s, prefix = '{name} ', full = 'block' }\n"
                   % (s, lua_quote(str(tmp_path / s))) for s in "ab")
    body += """
        logs.route{ match = '5$', to = a }
        logs.route{ match = '^1', drop = true }
        logs.route{ to = b }
        local children = {}
    """ + "".join("children[%d] = init.exec%s\n" % (i, numbered(n, count)) for i, n in enumerate(names, 1))
    body += "for _, child in ipairs(children) do child:status() end\n"
    result = policy(body)
    assert result.returncode == 0, result.stderr
    for sink, kept in [("a", lambda n: n % 10 == 5), ("b", lambda n: not str(n).startswith("1"))]:
        got = {name: [] for name in names}
        for line in (tmp_path / sink).read_text().splitlines():
            name, n = line.split()
            got[name].append(int(n))
        assert got == {name: [n for n in range(count) if kept(n)] for name in names}, sink


def test_a_pattern_route_sends_the_end_of_an_unfinished_line_where_its_beginning_went(tmp_path):
    a, gate = str(tmp_path / "a"), str(tmp_path / "gate")
    writer = 'printf "ERROR disk"; while [ ! -e %s ]; do sleep 0.02; done; echo " full"; echo ERROR next' % gate
    result = policy(WAIT_FOR + """
        logs.route{ match = 'ERROR', to = logs.file{ path = %s } }
        logs.route{ drop = true }
        local c = init.exec{ 'sh', '-c', %s, stdout = 'log' }
        wait_for(%s, 'ERROR disk')  -- published unfinished, after the wait
        io.open(%s, 'w'):close()
        c:status()
    """ % (lua_quote(a), lua_quote(writer), lua_quote(a), lua_quote(gate)))
    assert result.returncode == 0, result.stderr
    with open(a) as f:
        assert f.read().splitlines() == ["ERROR disk full", "ERROR next"]
