-- The `init` module: luasup's public Lua API. Argument checks raise
-- `bad argument` errors naming the script's line; calls that wait yield to
-- luasup's loop through luasup.task, so other tasks run meanwhile.
local core = require('luasup.core')
local task = require('luasup.task')

local await, raise = task.await, task.raise
local type, tostring, select, setmetatable = type, tostring, select, setmetatable

local init = {}

local function argerror(n, fname, message)
    raise(("bad argument #%d to '%s' (%s)"):format(n, fname, message))
end

local function check(n, fname, value, expected)
    if type(value) ~= expected then
        argerror(n, fname, expected .. ' expected, got ' .. type(value))
    end
end

local function check_seconds(n, fname, value)
    check(n, fname, value, 'number')
    if not (value >= 0 and value < math.huge) then
        argerror(n, fname, 'non-negative finite number expected, got ' .. tostring(value))
    end
end

-- Standard signal names -> numbers: init.signal.SIGTERM == 15.
init.signal = core.signals

-- A signal given as a number, 'TERM' or 'SIGTERM' -> its number.
local function signal_number(n, fname, sig)
    if type(sig) == 'number' then
        if sig >= 0 and sig <= core.max_signal and sig % 1 == 0 then
            return sig
        end
    elseif type(sig) == 'string' then
        local name = sig:upper()
        if name:sub(1, 3) ~= 'SIG' then
            name = 'SIG' .. name
        end
        local num = init.signal[name]
        if num then
            return num
        end
    else
        argerror(n, fname, 'signal name or number expected, got ' .. type(sig))
    end
    argerror(n, fname, "unknown signal '" .. tostring(sig) .. "'")
end
init._signal_number = signal_number

--- init.pid() -> the pid of luasup itself
function init.pid()
    return core.pid
end

--- init.kill(pid, sig) -> 0, or nil and an error message
function init.kill(pid, sig)
    check(1, 'kill', pid, 'number')
    return core.kill(pid, signal_number(2, 'kill', sig == nil and 15 or sig))
end

--- init.sleep(seconds) -> seconds; other tasks run meanwhile
function init.sleep(seconds)
    check_seconds(1, 'sleep', seconds)
    return (await('init.sleep', 'sleep', seconds))
end

--- init.every(seconds, fn, ...): call fn(...) every `seconds` in a task of
-- its own, first after `seconds`. A call that overruns delays the next one
-- (calls never overlap); an error is reported with its traceback and the
-- timer keeps going.
function init.every(seconds, fn, ...)
    check_seconds(1, 'every', seconds)
    check(2, 'every', fn, 'function')
    local n, args = select('#', ...), { ... }
    local info = debug.getinfo(fn, 'S')
    local name = ('every %gs job %s:%d'):format(seconds, info.short_src, info.linedefined)
    core.start_task(name, function()
        local deadline = core.now() + seconds
        while true do
            await('init.every', 'sleep_until', deadline)
            local ok, err = xpcall(fn, task.traceback, unpack(args, 1, n))
            if not ok then
                core.report_error(name, err)
            end
            local now = core.now()
            deadline = deadline + seconds
            if deadline < now then -- overran: skip the missed ticks
                deadline = now + seconds - (now - deadline) % (seconds > 0 and seconds or 1)
            end
        end
    end)
end

-- Command arguments: strings, numbers, or (nested) tables of them, flattened.
local function flatten(fname, out, value, argn)
    local t = type(value)
    if t == 'string' then
        out[#out + 1] = value
    elseif t == 'number' then
        out[#out + 1] = tostring(value)
    elseif t == 'table' then
        for i = 1, #value do
            flatten(fname, out, value[i], argn)
        end
    else
        argerror(argn, fname, 'string expected, got ' .. t)
    end
end

local Child = {}
Child.__index = Child

local function check_child(self, method)
    if getmetatable(self) ~= Child then
        raise(("bad argument #1 to '%s' (child expected, got %s); call it as child:%s()")
            :format(method, type(self), method))
    end
end

--- init.exec(cmd, ...) -> child. Starts cmd (searched in PATH) with the
-- given arguments, stdin from /dev/null, stdout and stderr captured.
-- Raises an error when cmd cannot be started.
function init.exec(cmd, ...)
    local argv = {}
    if type(cmd) ~= 'table' then
        check(1, 'exec', cmd, 'string')
    end
    flatten('exec', argv, cmd, 1)
    for i = 1, select('#', ...) do
        flatten('exec', argv, (select(i, ...)), i + 1)
    end
    if #argv == 0 then
        argerror(1, 'exec', 'command expected, got empty table')
    end
    local handle, pid = core.spawn(unpack(argv))
    if not handle then
        raise(pid)
    end
    return setmetatable({ _c = handle, _pid = pid, _argv = argv }, Child)
end

--- child:pid() -> its process id
function Child:pid()
    check_child(self, 'pid')
    return self._pid
end

--- child:stdout() -> all it wrote to stdout once that is closed, or nil
function Child:stdout()
    check_child(self, 'stdout')
    return (await('child:stdout', 'stream', self._c, 1))
end

--- child:stderr() -> all it wrote to stderr once that is closed, or nil
function Child:stderr()
    check_child(self, 'stderr')
    return (await('child:stderr', 'stream', self._c, 2))
end

--- child:status() -> its exit code, or the signal number that killed it
function Child:status()
    check_child(self, 'status')
    local _, code = await('child:status', 'wait', self._c)
    return code
end

--- child:kill() -> 9, after sending SIGKILL to its process group
function Child:kill()
    check_child(self, 'kill')
    core.signal_child(self._c, 9)
    return 9
end

function Child:__tostring()
    return ('child %s pid=%d %s'):format(self._argv[1], self._pid,
        core.child_running(self._c) and 'running' or 'exited')
end

-- Further groups of functions, each in a module of its own.
require('luasup.probes').install(init, argerror, check)

return init
