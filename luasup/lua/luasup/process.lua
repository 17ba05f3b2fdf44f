-- init.exec and the child object.
local core = require('luasup.core')
local task = require('luasup.task')
local args = require('luasup.args')
local handles = require('luasup.handles')

local await, raise = task.await, task.raise
local argerror, check = args.argerror, args.check
local type, tostring, select, setmetatable, pairs = type, tostring, select, setmetatable, pairs

local M = {}

local Child = {}
Child.__index = Child
M.Child = Child

-- Running children by pid, for init.children(); swept as children exit.
local live, live_count = {}, 0

local function sweep()
    for pid, child in pairs(live) do
        if not core.child_running(child._c) then
            live[pid] = nil
            live_count = live_count - 1
        end
    end
end

local OPTIONS = {
    env = 'table', clear_env = 'boolean', cwd = 'string', stdin = 'string',
    stdout = 'string|function', stderr = 'string|function', prefix = 'string',
    user = 'string|number', group = 'string|number', setsid = 'boolean',
    umask = 'number', name = 'string', fds = 'table', notify = 'boolean', log_name = 'string',
}
M.OPTIONS = OPTIONS

-- Command arguments: strings, numbers, or (nested) tables of them, flattened.
local function flatten(out, value, argn)
    local t = type(value)
    if t == 'string' then
        out[#out + 1] = value
    elseif t == 'number' then
        out[#out + 1] = tostring(value)
    elseif t == 'table' then
        if argn > 1 and next(value) ~= nil and #value == 0 then
            argerror(argn, 'exec', 'string expected, got table with keys'
                .. ' (options go in the table form: exec{cmd, arg, key = value})')
        end
        for i = 1, #value do
            flatten(out, value[i], argn)
        end
    else
        argerror(argn, 'exec', 'string expected, got ' .. t)
    end
end

local function check_stream(name, value, allowed)
    if type(value) == 'string' and not allowed[value] and not value:find('/') then
        argerror(1, 'exec', ("option '%s': %s or a file path expected, got '%s'")
            :format(name, allowed[1], value))
    end
end

-- exec's env option (logs.process takes it too)
function M.check_env(fname, env)
    for key, value in pairs(env or {}) do
        if type(key) ~= 'string' or not (type(value) == 'string' or type(value) == 'number'
                or value == false) then
            argerror(1, fname, ("option 'env': string keys and string, number or false values"
                .. " expected, got %s = %s"):format(type(key), type(value)))
        end
    end
end

local function check_options(opts)
    args.options(1, 'exec', opts, OPTIONS)
    if opts.stdin ~= nil and not ({ null = 1, inherit = 1, pipe = 1 })[opts.stdin] then
        argerror(1, 'exec', ("option 'stdin': 'null', 'inherit' or 'pipe' expected, got '%s'")
            :format(opts.stdin))
    end
    local streams = { "'capture', 'inherit', 'null', 'log', a function", capture = 1, inherit = 1, null = 1,
                      log = 1 }
    check_stream('stdout', opts.stdout, streams)
    check_stream('stderr', opts.stderr, streams)
    if opts.prefix and (opts.stdout == 'log' or opts.stderr == 'log') then
        argerror(1, 'exec', "option 'prefix': for 'inherit' streams; records on the log bus get a sink's prefix")
    end
    M.check_env('exec', opts.env)
    local Listener = require('luasup.probes').Listener
    for i, sock in ipairs(opts.fds or {}) do
        if getmetatable(sock) ~= Listener then
            argerror(1, 'exec', ("option 'fds': listeners from init.listen expected, got %s at %d")
                :format(type(sock), i))
        elseif not sock._fd then
            argerror(1, 'exec', ("option 'fds': listener %d is closed"):format(i))
        end
    end
    if opts.umask ~= nil then
        args.integer(1, 'exec', opts.umask, 0, 511, "option 'umask': 0 to 0777")
    end
    for _, key in ipairs({ 'user', 'group' }) do
        if type(opts[key]) == 'number' then
            args.integer(1, 'exec', opts[key], 0, 4294967294, ("option '%s': a name or an id"):format(key))
        end
    end
end

-- A child's line callback (stdout = fn) runs in a task of its own. No
-- Python object comes back to Lua for it (no task, no line queue): lupa
-- leaks a few bytes of Lua heap for each Python object handed to Lua, which
-- would add up over a restart loop.
local function follow(child, fd, fn, name)
    core.run_task(name, function()
        while true do
            local line, continues = await('child:lines', 'follow_line', child._c, fd)
            if line == nil then
                return
            end
            local ok, err = xpcall(fn, task.traceback, line, continues)
            if not ok then
                core.report_error(name, err)
            end
        end
    end)
end

--- init.exec(cmd, ...) or init.exec{cmd, ..., option = value} -> child.
-- Raises an error when cmd cannot be started.
function M.exec(cmd, ...)
    local argv, opts = {}, nil
    if type(cmd) == 'table' then
        opts = cmd
        check_options(opts)
    else
        check(1, 'exec', cmd, 'string')
    end
    flatten(argv, cmd, 1)
    for i = 1, select('#', ...) do
        flatten(argv, (select(i, ...)), i + 1)
    end
    if #argv == 0 then
        argerror(1, 'exec', 'command expected, got empty table')
    end
    local callbacks = {}
    if opts then
        -- Python sees plain values: a function stream is captured here
        -- and fed to the function line by line.
        local py = {}
        for key, value in pairs(opts) do
            if type(key) == 'string' then
                py[key] = value
            end
        end
        for fd, key in ipairs({ 'stdout', 'stderr' }) do
            if type(opts[key]) == 'function' then
                callbacks[fd] = opts[key]
                py[key] = 'capture'
            end
        end
        if opts.fds then
            local fds = {}
            for i, sock in ipairs(opts.fds) do
                fds[i] = { sock._fd, sock._name or 'listener' }
            end
            py.fds = fds
        end
        opts = py
    end
    handles.release()
    local handle, pid = core.spawn(argv, opts)
    if not handle then
        raise(pid)
    end
    local child = setmetatable({ _c = handle, _pid = pid, _argv = argv, _gc = handles.on_collect(handle),
                                 _name = opts and opts.name or argv[1] }, Child)
    for fd, fn in pairs(callbacks) do
        follow(child, fd, fn, ('%s %s'):format(child._name, fd == 1 and 'stdout' or 'stderr'))
    end
    if live_count > 64 then
        sweep()
    end
    live[pid] = child
    live_count = live_count + 1
    return child
end

-- The child with this pid that a re-exec handed over (supervise's runner
-- takes its service's), with its line callbacks as exec's opts give them;
-- nil when none was.
function M.adopt(pid, name, opts)
    local handle = core.adopt_child(pid)
    if not handle then
        return nil
    end
    local child = setmetatable({ _c = handle, _pid = pid, _argv = { name }, _gc = handles.on_collect(handle),
                                 _name = name }, Child)
    for fd, key in ipairs({ 'stdout', 'stderr' }) do
        if type(opts[key]) == 'function' then
            follow(child, fd, opts[key], ('%s %s'):format(name, key))
        end
    end
    live[pid] = child
    live_count = live_count + 1
    return child
end

--- init.children() -> a list of the children still running
function M.children()
    sweep()
    local list = {}
    for _, child in pairs(live) do
        list[#list + 1] = child
    end
    table.sort(list, function(a, b) return a._pid < b._pid end)
    return list
end

local function check_child(self, method)
    args.self(self, Child, 'child', method)
end

local function stream_fd(method, stream)
    if stream == nil or stream == 'stdout' then
        return 1
    elseif stream == 'stderr' then
        return 2
    end
    argerror(1, method, "'stdout' or 'stderr' expected, got " .. tostring(stream))
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

local function wait_for(self, method, timeout)
    check_child(self, method)
    args.timeout(1, method, timeout)
    return await('child:' .. method, 'wait', self._c, timeout)
end

--- child:wait([timeout]) -> true, "exit", code | true, "signal", signum | nil, "timeout"
function Child:wait(timeout)
    local reason, code = wait_for(self, 'wait', timeout)
    if not reason then
        return nil, 'timeout'
    end
    return true, reason, code
end

--- child:code([timeout]) -> its exit code as a shell reports it: the code, or
-- 128 + N when signal N killed it; or nil, "timeout"
function Child:code(timeout)
    local reason, code = wait_for(self, 'code', timeout)
    if not reason then
        return nil, 'timeout'
    end
    return reason == 'signal' and 128 + code or code
end

--- child:kill() -> 9, after sending SIGKILL to its process group
function Child:kill()
    check_child(self, 'kill')
    core.signal_child(self._c, 9)
    return 9
end

--- child:signal(sig) -> true, or nil and "not running"
function Child:signal(sig)
    check_child(self, 'signal')
    if core.signal_child(self._c, args.signal(1, 'signal', sig)) then
        return true
    end
    return nil, 'not running'
end

--- child:running() -> true until it has exited
function Child:running()
    check_child(self, 'running')
    return core.child_running(self._c)
end

--- child:lines([stream]) -> an iterator over its output lines as they arrive:
-- each call returns a line, and true when the line goes on in the next piece
function Child:lines(stream)
    check_child(self, 'lines')
    local queue, err = core.child_lines(self._c, stream_fd('lines', stream))
    if not queue then
        raise(err)
    end
    return function()
        return await('child:lines', 'line', queue)
    end
end

--- child:write(data) -> true, or nil and an error (stdin = "pipe")
function Child:write(data)
    check_child(self, 'write')
    check(1, 'write', data, 'string')
    return await('child:write', 'write', self._c, data)
end

--- child:close() closes its stdin
function Child:close()
    check_child(self, 'close')
    core.close_stdin(self._c)
    return true
end

--- child:stats() -> { rss =, cpu =, threads =, processes = } for it and its descendants
function Child:stats()
    check_child(self, 'stats')
    return core.child_stats(self._c)
end

--- child:ready([timeout]) -> true once it sent READY=1 (notify = true), or nil, err
function Child:ready(timeout)
    check_child(self, 'ready')
    args.timeout(1, 'ready', timeout)
    return await('child:ready', 'ready', self._c, timeout)
end

function Child:__tostring()
    return ('child %s pid=%d %s'):format(self._name, self._pid,
        core.child_running(self._c) and 'running' or 'exited')
end

task.guard_all(Child)

return M
