"""The LuaJIT state a script runs in: bundled Lua on package.path, the
`arg` table, and compiling the script with chunk names that give
`script.lua:LINE:` in errors."""

import os

import lupa.luajit21 as lupa

LUA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua")


class LuaSyntaxError(Exception):
    pass


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Runtime:
    def __init__(self):
        # encoding=None: Lua strings are bytes in Python, so binary output and
        # non-UTF-8 arguments pass through unchanged.
        self.lua = lupa.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                                   register_eval=False, register_builtins=False)
        package = self.lua.globals().package
        # only ?.lua: our subfolders (luasup/, meta/) must not shadow a
        # script's own modules of the same name
        package.path = ("%s/?.lua;" % LUA_DIR).encode() + package.path
        self._loadstring = self.lua.globals().loadstring

    def compile(self, source, chunkname):
        """A function for the chunk, or LuaSyntaxError('file:line: message')."""
        result = self._loadstring(source, chunkname)
        if isinstance(result, tuple):  # nil, message
            raise LuaSyntaxError(_text(result[1]))
        return result

    def table(self, mapping):
        return self.lua.table_from(mapping, recursive=True)

    def require(self, module):
        return self.lua.globals().require(module.encode())

    def boot(self, core, script_dir, arg):
        """Install luasup.core (a dict with bytes keys) and the `arg` table."""
        with open(os.path.join(LUA_DIR, "luasup", "boot.lua"), "rb") as f:
            boot = self.compile(f.read(), b"@" + os.path.join(LUA_DIR, "luasup/boot.lua").encode())
        boot(self.table(core), script_dir)
        self.lua.globals().arg = self.table(arg)
