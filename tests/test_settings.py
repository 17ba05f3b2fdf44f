"""Every LUASUP_* setting is checked at start the same way: a bad value is a
usage error (exit 2) whose message names the allowed values."""

import pytest

from helpers import env_for, run


@pytest.mark.parametrize("name, value, allowed", [
    ("LUASUP_LOG_LEVEL", "loud", "one of error, warn, info, debug"),
    ("LUASUP_LOG_FORMAT", "yaml", "one of text, json"),
    ("LUASUP_LOOP", "trio", "one of uvloop, asyncio"),
    ("LUASUP_GRACE_MS", "abc", "a non-negative number"),
    ("LUASUP_GRACE_MS", "-5", "a non-negative number"),
    ("LUASUP_GRACE_MS", "nan", "a non-negative number"),
    ("LUASUP_CAPTURE_BYTES", "1MB", "a non-negative number"),
])
def test_bad_value_is_a_usage_error_naming_the_allowed_values(name, value, allowed):
    for mode in (["-e", "return 0"], ["--", "true"]):
        result = run(mode, env=env_for(**{name: value}))
        assert (result.returncode, result.stderr) == (
            2, "luasup: fatal: %s must be %s, got '%s'\n" % (name, allowed, value))


@pytest.mark.parametrize("name, value", [
    ("LUASUP_LOG_LEVEL", "DEBUG"), ("LUASUP_LOG_LEVEL", ""), ("LUASUP_LOG_FORMAT", "JSON"),
    ("LUASUP_LOOP", "asyncio"), ("LUASUP_LOOP", "uvloop"), ("LUASUP_GRACE_MS", "250.5"),
])
def test_good_values_and_empty_ones_are_accepted(name, value):
    result = run(["-e", "return 7"], env=env_for(**{name: value}))
    assert result.returncode == 7, result.stderr


def test_values_take_effect():
    shown = run(["-e", "require('init').log('debug', 'seen')"],
                env=env_for(LUASUP_LOG_LEVEL="Debug", LUASUP_LOG_FORMAT="json"))
    assert shown.returncode == 0
    assert '"level": "debug", "msg": "seen"' in shown.stderr
    quiet = run(["-e", "require('init').log('info', 'hidden')"],
                env=env_for(LUASUP_LOG_LEVEL="error"))
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_a_bad_setting_is_reported_before_a_bad_argument():
    result = run(["--frobnicate"], env=env_for(LUASUP_LOG_FORMAT="xml"))
    assert (result.returncode, result.stderr) == (
        2, "luasup: fatal: LUASUP_LOG_FORMAT must be one of text, json, got 'xml'\n")
