"""The `init` table itself: strict about unknown names, one table for every
require, and init.now."""

from helpers import run


def test_reading_an_unknown_field_is_an_error_naming_it_at_the_scripts_line(tmp_path):
    # init.exce(...) used to fail later, as "attempt to call field 'exce' (a nil value)"
    (tmp_path / "main.lua").write_text(
        "local init = require('init')\n\ninit.exce('true')\n")
    result = run(["main.lua"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "luasup: error in task main: main.lua:3: init has no field 'exce'")


def test_require_returns_the_same_table_and_scripts_may_add_fields():
    result = run(["-e", """
        local init = require('init')
        init.helper = function() return 'mine' end
        print(require('init') == init, require('init').helper(), rawget(init, 'nope'))
        print(pcall(function() return init.nope end))
    """])
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "true\tmine\tnil", "false\t(command line):5: init has no field 'nope'"]


def test_now_is_a_monotonic_clock_in_seconds():
    result = run(["-e", """
        local init = require('init')
        local a = init.now()
        init.sleep(0.2)
        local b = init.now()
        -- (a timer may fire up to a millisecond early by this clock)
        print(type(a), b >= a + 0.19, b < a + 10, a % 1 ~= 0 or b % 1 ~= 0)
    """])
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "number\ttrue\ttrue\ttrue\n", "")
