-- The script's say in luasup's life: signal handlers, exit hooks, shutdown.
local core = require('luasup.core')
local task = require('luasup.task')
local args = require('luasup.args')

local await = task.await
local check, argerror = args.check, args.argerror
local type, tostring, select, xpcall = type, tostring, select, xpcall

local M = {}

local handlers = {} -- signal number -> the task delivering it

--- init.on(sig, fn | "default" | "ignore"): fn(signame) runs in a task for
-- each delivery, in order, instead of luasup's default for that signal.
function M.on(sig, action)
    local signo = args.signal(1, 'on', sig)
    if signo == 9 or signo == 19 or signo == 17 then
        argerror(1, 'on', 'SIGKILL, SIGSTOP and SIGCHLD cannot be handled')
    elseif not core.relayable[signo] then
        argerror(1, 'on', ("signal %d cannot be handled"):format(signo))
    end
    if handlers[signo] then
        core.cancel_task(handlers[signo])
        core.release(handlers[signo])
        handlers[signo] = nil
    end
    if action == 'default' or action == 'ignore' then
        core.set_signal_policy(signo, action)
        return true
    end
    if type(action) ~= 'function' then
        argerror(2, 'on', "function, 'default' or 'ignore' expected, got "
            .. (type(action) == 'string' and "'" .. action .. "'" or type(action)))
    end
    core.set_signal_policy(signo, 'script')
    local name = 'on ' .. core.signal_name(signo)
    handlers[signo] = core.start_task(name, function()
        while true do
            local signame = await('init.on', 'next_signal', signo)
            local ok, err = xpcall(action, task.traceback, signame)
            if not ok then
                core.report_error(name, err)
            end
        end
    end)
    return true
end

--- init.on_exit(fn): fn(code) runs as luasup exits, after its children stopped
function M.on_exit(fn)
    check(1, 'on_exit', fn, 'function')
    core.add_exit_hook(fn)
end

local function exit_code(fname, code)
    if code == nil or code == true then
        return 0
    elseif code == false then
        return 1
    elseif type(code) ~= 'number' then
        argerror(1, fname, 'number expected, got ' .. type(code))
    elseif code % 1 ~= 0 then -- also nan and inf: never taken for success
        argerror(1, fname, 'integer expected, got ' .. tostring(code))
    end
    return code
end

--- init.exit([code]): stop gracefully and exit with code (default 0); in an
-- on_exit hook, change the exit code and end that hook
function M.exit(code)
    core.request_exit(exit_code('exit', code))
    await('init.exit', 'forever')
end

--- init.wait() -> the exit code, once shutdown has begun
function M.wait()
    return (await('init.wait', 'shutdown'))
end

--- init.shutdown_grace([seconds]) -> the grace period in force before the call
function M.shutdown_grace(seconds)
    if seconds ~= nil then
        args.seconds(1, 'shutdown_grace', seconds)
    end
    return core.grace(seconds)
end

local LEVELS = { error = true, warn = true, info = true, debug = true }

--- init.log(level, fmt, ...): a line in luasup's log format
function M.log(level, fmt, ...)
    check(1, 'log', level, 'string')
    if not LEVELS[level] then
        argerror(1, 'log', "'error', 'warn', 'info' or 'debug' expected, got '" .. level .. "'")
    end
    check(2, 'log', fmt, 'string')
    local ok, text = pcall(string.format, fmt, ...)
    if not ok then
        -- string.format counts from fmt; init.log's own count is one more
        local n, why = text:match("^bad argument #(%d+) to '[^']*' %((.*)%)$")
        if n then
            argerror(tonumber(n) + 1, 'log', why)
        end
        argerror(2, 'log', text)
    end
    core.log(level, text)
end

return M
