-- The `init` module: luasup's public Lua API. luavisors' functions (pid,
-- kill, sleep, every, exec, signal) plus what a supervision policy needs.
-- The functions live in luasup/*.lua by topic; this file gathers them.
local core = require('luasup.core')
local task = require('luasup.task')
local args = require('luasup.args')
local process = require('luasup.process')
local concurrency = require('luasup.concurrency')
local lifecycle = require('luasup.lifecycle')

local init = {}

-- Standard signal names -> numbers: init.signal.SIGTERM == 15.
init.signal = core.signals

--- init.pid() -> the pid of luasup itself
function init.pid()
    return core.pid
end

--- init.kill(pid, sig) -> 0, or nil and an error message
function init.kill(pid, sig)
    args.integer(1, 'kill', pid, -2147483647, 2147483647, 'process id')
    return core.kill(pid, args.signal(2, 'kill', sig == nil and 15 or sig))
end

--- init.now() -> seconds on a monotonic clock (a float), for measuring time
function init.now()
    return core.clock()
end

init.exec = process.exec
init.children = process.children

init.sleep = concurrency.sleep
init.spawn = concurrency.spawn
init.every = concurrency.every
init.after = concurrency.after
init.wait_any = concurrency.wait_any

init.on = lifecycle.on
init.on_exit = lifecycle.on_exit
init.exit = lifecycle.exit
init.wait = lifecycle.wait
init.shutdown_grace = lifecycle.shutdown_grace
init.log = lifecycle.log

require('luasup.probes').install(init, args.argerror, args.check)

task.guard_all(init)

-- Strict: a typo such as init.exce is an error that names it, not a nil
-- that fails later. New fields may still be set.
return setmetatable(init, {
    __index = function(_, key)
        task.raise(("init has no field '%s'"):format(tostring(key)))
    end,
})
