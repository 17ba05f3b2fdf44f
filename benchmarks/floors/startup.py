"""The start-up floor of a Python init built like luasup: the interpreter,
asyncio and the chosen loop (with `lua`, a LuaJIT runtime too), then one
command spawned and waited for. Nothing luasup-specific is imported.

    python3 startup.py uvloop|asyncio [lua] -- CMD [ARGS...]
"""

import os
import sys

split = sys.argv.index("--")
options, cmd = sys.argv[1:split], sys.argv[split + 1:]

import asyncio  # noqa: E402  (the floor is the cost of these imports)

if "uvloop" in options:
    import uvloop
    loop = uvloop.new_event_loop()
else:
    loop = asyncio.new_event_loop()
if "lua" in options:
    import lupa.luajit21
    lua = lupa.luajit21.LuaRuntime(encoding=None, unpack_returned_tuples=True)
    lua.execute("return require('string')")


async def main():
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


sys.exit(loop.run_until_complete(main()))
