-- Prepares the Lua state before the script runs: luasup.core, the script's
-- own directory for require, and print/os.exit that suit a supervisor.
local core, script_dir = ...

package.loaded['luasup.core'] = core
core.script_file = script_dir ~= nil -- arg[0] names a file (not inline code)
if script_dir then
    package.path = package.path .. ';' .. script_dir .. '/?.lua;' .. script_dir .. '/?/init.lua'
end

local stdout, tostring, select, concat, write = io.stdout, tostring, select, table.concat, core.print

-- print writes each line at once, in order with the child output luasup
-- relays, and never blocks luasup: it goes through the core's writer, not
-- C stdio (which would hold it back in a buffer, or wait on a stalled reader).
function print(...)
    local n = select('#', ...)
    local parts = {}
    for i = 1, n do
        parts[i] = tostring((select(i, ...)))
    end
    stdout:flush() -- what io.write left in C's buffer comes first
    write(concat(parts, '\t') .. '\n')
end

-- Files Lua opens are not close-on-exec: tell the core, so the next exec
-- keeps them from the child.
for _, name in ipairs({ 'open', 'popen', 'lines', 'tmpfile', 'input', 'output' }) do
    local original = io[name]
    io[name] = function(...)
        core.fds_opened()
        return original(...)
    end
end

-- os.exit would end luasup on the spot, leaving its children running:
-- make it init.exit, a graceful shutdown with that exit code.
function os.exit(code)
    io.stdout:flush()
    require('init').exit(code)
end

-- os.execute and io.popen start their commands as luasup's children do
-- (after the io wrappers above: the libc versions they fall back on must
-- still tell the core of the pipe they open).
require('luasup.shell').install()

local task = require('luasup.task')
print = task.guard(print)
coroutine.yield = task.yield
