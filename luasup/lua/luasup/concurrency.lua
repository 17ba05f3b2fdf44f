-- Tasks and timers: init.sleep, init.spawn, init.every, init.after,
-- init.wait_any.
local core = require('luasup.core')
local task = require('luasup.task')
local args = require('luasup.args')
local process = require('luasup.process')
local handles = require('luasup.handles')

local await, raise = task.await, task.raise
local check = args.check
local select, unpack, setmetatable, xpcall, type = select, unpack, setmetatable, xpcall, type

local M = {}

local Task = {}
Task.__index = Task
local Timer = {}
Timer.__index = Timer

--- init.sleep(seconds) -> seconds; other tasks run meanwhile
function M.sleep(seconds)
    args.seconds(1, 'sleep', seconds)
    return (await('init.sleep', 'sleep', seconds))
end

-- A task's fields: its handle, released once the task object is dropped.
local function started(name, fn, ...)
    handles.release()
    local handle = core.start_task(name, fn, ...)
    return { _t = handle, _gc = handles.on_collect(handle) }
end

--- init.spawn(fn, ...) -> a task running fn(...) concurrently
function M.spawn(fn, ...)
    check(1, 'spawn', fn, 'function')
    return setmetatable(started(task.job_name('task', fn), fn, ...), Task)
end

local function check_task(self, method)
    args.self(self, Task, 'task', method)
end

--- task:wait() -> fn's results; raises fn's error
function Task:wait()
    check_task(self, 'wait')
    return await('task:wait', 'join', self._t)
end

--- task:cancel() stops it where it waits
function Task:cancel()
    check_task(self, 'cancel')
    core.cancel_task(self._t)
    return true
end

function Task:__tostring()
    return ('task %s %s'):format(core.task_name(self._t), core.task_done(self._t) and 'done' or 'running')
end

--- task:done() -> true once it has finished, failed or been cancelled
function Task:done()
    check_task(self, 'done')
    return core.task_done(self._t)
end

-- Timers run fn in a task of their own; an error is reported with its
-- traceback and does not stop an every timer.
local function timer(name, first, period, fn, n, argv)
    return setmetatable(started(name, function()
        local deadline = core.now() + first
        while true do
            await('init.every', 'sleep_until', deadline)
            local ok, err = xpcall(fn, task.traceback, unpack(argv, 1, n))
            if not ok then
                core.report_error(name, err)
            end
            if not period then
                return
            end
            local now = core.now()
            deadline = deadline + period
            if deadline < now then -- overran: skip the missed ticks
                deadline = now + period - (now - deadline) % (period > 0 and period or 1)
            end
        end
    end), Timer)
end

--- init.every(seconds, fn, ...) -> timer. Calls fn(...) every `seconds`,
-- first after `seconds`; a call that overruns delays the next (no overlap).
function M.every(seconds, fn, ...)
    args.seconds(1, 'every', seconds)
    if seconds == 0 then
        args.argerror(1, 'every', 'positive number expected, got 0')
    end
    check(2, 'every', fn, 'function')
    local name = task.job_name(('every %gs job'):format(seconds), fn)
    return timer(name, seconds, seconds, fn, select('#', ...), { ... })
end

--- init.after(seconds, fn, ...) -> timer. Calls fn(...) once, `seconds` from now.
function M.after(seconds, fn, ...)
    args.seconds(1, 'after', seconds)
    check(2, 'after', fn, 'function')
    local name = task.job_name(('after %gs job'):format(seconds), fn)
    return timer(name, seconds, nil, fn, select('#', ...), { ... })
end

--- timer:cancel() stops it (a call in progress is stopped where it waits)
function Timer:cancel()
    args.self(self, Timer, 'timer', 'cancel')
    core.cancel_task(self._t)
    return true
end

function Timer:__tostring()
    return ('timer %s %s'):format(core.task_name(self._t), core.task_done(self._t) and 'done' or 'running')
end

--- init.wait_any(a, b, ... [, timeout]) -> the first child or task to finish,
-- or nil, "timeout"
function M.wait_any(...)
    local n = select('#', ...)
    local timeout
    if n > 0 and type((select(n, ...))) == 'number' then
        timeout = select(n, ...)
        args.seconds(n, 'wait_any', timeout)
        n = n - 1
    end
    local things, ids = { ... }, {}
    for i = 1, n do
        local thing = things[i]
        local mt = getmetatable(thing)
        if mt == process.Child or mt == Task or mt == Timer then
            ids[i] = mt == process.Child and thing._c or thing._t
        else
            args.argerror(i, 'wait_any', 'child, task or timer expected, got ' .. type(thing))
        end
    end
    if n == 0 then
        args.argerror(1, 'wait_any', 'child, task or timer expected, got no value')
    end
    local index = await('init.wait_any', 'wait_any', ids, n, timeout)
    if not index then
        return nil, 'timeout'
    end
    return things[index]
end

task.guard_all(Task)
task.guard_all(Timer)

return M
