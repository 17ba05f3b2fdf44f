-- The log bus for policies: which sinks exist and which records go where.
-- The bytes never pass through Lua: the queues, files, sockets and
-- processes are the core's (luasup/logs/). Here are the argument checks and
-- the sink objects scripts hold.
local core = require('luasup.core')
local task = require('luasup.task')
local args = require('luasup.args')

local type, tostring, pairs, ipairs, setmetatable, select = type, tostring, pairs, ipairs, setmetatable, select
local argerror, check, check_self = args.argerror, args.check, args.self

local M = {}

local Sink = {}
Sink.__index = Sink

local QUEUE = { max_bytes = 'number', full = 'string', batch_bytes = 'number', batch_time = 'number' }

local function spec_with(extra)
    local spec = {}
    for k, v in pairs(QUEUE) do
        spec[k] = v
    end
    for k, v in pairs(extra) do
        spec[k] = v
    end
    return spec
end

local function positive(fname, opts, key, prefix)
    local v = opts[key]
    if v ~= nil and not (v >= 0 and v < math.huge) then
        argerror(1, fname, ("option '%s%s': non-negative number expected, got %s")
            :format(prefix or '', key, tostring(v)))
    end
end

local function one_of(fname, opts, key, choices)
    local v = opts[key]
    if v ~= nil and not choices[v] then
        argerror(1, fname, ("option '%s': %s expected, got '%s'"):format(key, choices[1], v))
    end
end

local FULL = { "'drop-oldest', 'drop-newest' or 'block'", ['drop-oldest'] = 1, ['drop-newest'] = 1, block = 1 }
local FORMAT = { "'text' or 'json'", text = 1, json = 1 }

-- The options every sink takes, checked, in the order core.log_* wants them.
local function queue_options(fname, opts)
    for key in pairs(QUEUE) do
        if key ~= 'full' then
            positive(fname, opts, key)
        end
    end
    one_of(fname, opts, 'full', FULL)
    if opts.batch_time and opts.batch_time > 3600 then
        argerror(1, fname, "option 'batch_time': at most 3600 seconds expected, got " .. tostring(opts.batch_time))
    end
    return opts.max_bytes, opts.full, opts.batch_bytes, opts.batch_time
end

local function declared(kind, fname, id, err)
    if not id then
        task.raise(fname .. ': ' .. tostring(err))
    end
    return setmetatable({ _id = id, _kind = kind }, Sink)
end

local CONSOLE = spec_with({ stream = 'string', prefix = 'string', format = 'string', color = 'string|boolean' })
local STREAM = { "'same', 'stdout' or 'stderr'", same = 1, stdout = 1, stderr = 1 }

--- logs.console{stream=, prefix=, format=, color=, ...} -> sink
function M.console(opts)
    opts = opts or {}
    check(1, 'logs.console', opts, 'table')
    args.options(1, 'logs.console', opts, CONSOLE)
    one_of('logs.console', opts, 'stream', STREAM)
    one_of('logs.console', opts, 'format', FORMAT)
    if type(opts.color) == 'string' and opts.color ~= 'auto' then
        argerror(1, 'logs.console', "option 'color': true, false or 'auto' expected, got '" .. opts.color .. "'")
    end
    local color = opts.color
    if color == nil then
        color = 'auto'
    end
    return declared('console', 'logs.console', core.log_console(opts.stream or 'same',
        opts.prefix or '{name} | ', opts.format or 'text', color, queue_options('logs.console', opts)))
end

local FILE = spec_with({ path = 'string', prefix = 'string', format = 'string', rotate = 'table' })
local ROTATE = { size = 'number', keep = 'number', age = 'number' }

--- logs.file{path=, prefix=, format=, rotate={size=, keep=, age=}, ...} -> sink
function M.file(opts)
    check(1, 'logs.file', opts, 'table')
    args.options(1, 'logs.file', opts, FILE)
    if opts.path == nil then
        argerror(1, 'logs.file', "option 'path' is required")
    end
    one_of('logs.file', opts, 'format', FORMAT)
    local rotate = opts.rotate or {}
    args.options(1, 'logs.file', rotate, ROTATE)
    for key in pairs(ROTATE) do
        positive('logs.file', rotate, key, 'rotate.')
    end
    if rotate.keep and rotate.keep % 1 ~= 0 then
        argerror(1, 'logs.file', "option 'rotate.keep': whole number expected, got " .. tostring(rotate.keep))
    end
    return declared('file', 'logs.file', core.log_file(opts.path, opts.prefix or '', opts.format or 'text',
        rotate.size or 0, rotate.keep or 5, rotate.age or 0, queue_options('logs.file', opts)))
end

local RING = { lines = 'number', bytes = 'number' }

--- logs.ring{lines=1000, bytes=1 MiB} -> sink: the last records of each name
function M.ring(opts)
    opts = opts or {}
    check(1, 'logs.ring', opts, 'table')
    args.options(1, 'logs.ring', opts, RING)
    positive('logs.ring', opts, 'lines')
    positive('logs.ring', opts, 'bytes')
    return declared('ring', 'logs.ring', core.log_ring(opts.lines or 1000, opts.bytes or 1048576))
end

local PROCESS = spec_with({ name = 'string', prefix = 'string', format = 'string', env = 'table',
                            clear_env = 'boolean', cwd = 'string', user = 'string|number',
                            group = 'string|number', umask = 'number' })
local EXEC_OPTIONS = { 'env', 'clear_env', 'cwd', 'user', 'group', 'umask' }

--- logs.process{cmd, arg..., name=, format=, prefix=, env=, cwd=, user=, ...} -> sink:
-- records written to a long-running consumer's stdin; restarted if it dies
function M.process(opts)
    check(1, 'logs.process', opts, 'table')
    args.options(1, 'logs.process', opts, PROCESS)
    one_of('logs.process', opts, 'format', FORMAT)
    if opts[1] == nil then
        argerror(1, 'logs.process', 'a command expected, got nothing')
    end
    local argv = {}
    for i, v in ipairs(opts) do
        if type(v) ~= 'string' and type(v) ~= 'number' then
            argerror(1, 'logs.process', ('string expected at [%d], got %s'):format(i, type(v)))
        end
        argv[i] = tostring(v)
    end
    if opts.umask ~= nil then
        args.integer(1, 'logs.process', opts.umask, 0, 511, "option 'umask': 0 to 0777")
    end
    require('luasup.process').check_env('logs.process', opts.env)
    local exec = {}
    for _, key in ipairs(EXEC_OPTIONS) do
        exec[key] = opts[key]
    end
    return declared('process', 'logs.process', core.log_process(argv, exec, opts.name, opts.format or 'text',
        opts.prefix or '', queue_options('logs.process', opts)))
end

-- A callback's error, reported in one line: the first at once, then at
-- most one a REPORT_EVERY seconds with how many came meanwhile (a callback
-- that fails on every record must not flood luasup's stderr, nor feed
-- itself through a route of luasup's own lines).
local REPORT_EVERY = 5

local function run_fn(callback, name)
    local await, xpcall, now = task.await, xpcall, core.now
    local errors, last_report, unreported = 0, -math.huge, 0
    local function message(err)
        return tostring(err)
    end
    local function failed(err)
        errors = errors + 1
        if now() - last_report < REPORT_EVERY then
            unreported = unreported + 1
            return
        end
        if unreported > 0 then
            err = ('%s (and %d more errors since the last one reported)'):format(err, unreported)
        end
        core.report_error(name, err)
        last_report, unreported = now(), 0
    end
    return function(id)
        while true do
            local flat = await('logs.fn', 'log_fn_next', id, errors)
            errors = 0
            for b = 1, #flat, 7 do
                local bname, stream, pid, time, mono, lines, continued = unpack(flat, b, b + 6)
                local cont = {}
                for _, i in ipairs(continued or cont) do
                    cont[i] = true
                end
                for i = 1, #lines do
                    local ok, err = xpcall(callback, message, {
                        name = bname, stream = stream, pid = pid, line = lines[i], time = time,
                        mono = mono, continued = cont[i] or false })
                    if not ok then
                        failed(err)
                    end
                end
            end
        end
    end
end

--- logs.fn(function(rec) end [, {max_bytes=, full=, batch_bytes=, batch_time=}]) -> sink:
-- rec = {name, stream, pid, line, time, mono, continued}, one record at a time, in order
function M.fn(callback, opts)
    check(1, 'logs.fn', callback, 'function')
    opts = opts or {}
    check(2, 'logs.fn', opts, 'table')
    args.options(2, 'logs.fn', opts, QUEUE)
    local name = task.job_name('logs.fn', callback)
    return declared('function', 'logs.fn', core.log_fn(name, run_fn(callback, name),
        queue_options('logs.fn', opts)))
end

local Stdin = {}
Stdin.__index = Stdin

--- logs.stdin(name, ...) -> an object with :stats(): luasup's own stdin written to the
-- stdin of the children of these names (started with stdin = 'pipe')
function M.stdin(...)
    local n = select('#', ...)
    if n == 0 then
        argerror(1, 'logs.stdin', 'a child or service name expected, got nothing')
    end
    local names = {}
    for i = 1, n do
        local name = (select(i, ...))
        check(i, 'logs.stdin', name, 'string')
        names[i] = name
    end
    local ok, err = core.log_stdin(names)
    if not ok then
        task.raise('logs.stdin: ' .. tostring(err))
    end
    return setmetatable({}, Stdin)
end

--- stdin:stats() -> {read=, written=, dropped_bytes=, paused=, children=, eof=}
function Stdin:stats()
    args.self(self, Stdin, 'stdin', 'stats')
    return core.log_stdin_stats()
end

local HTTP = spec_with({ url = 'string', format = 'string', labels = 'table', headers = 'table',
                         timeout = 'number' })
local HTTP_FORMAT = { "'loki' or 'ndjson'", loki = 1, ndjson = 1 }
-- what each record sets itself: a static label of that name would hide it
local OWN_FIELDS = {
    loki = { service = 1, stream = 1 },
    ndjson = { time = 1, name = 1, stream = 1, pid = 1, line = 1, continued = 1 },
}

-- labels { name = value } -> { name1, value1, ... } sorted by name
local function flat_labels(labels, format)
    local names = {}
    for name, value in pairs(labels) do
        if type(name) ~= 'string' then
            argerror(1, 'logs.http', "option 'labels': label name must be a string, got " .. type(name))
        end
        if not name:find('^[%a_][%w_]*$') then
            argerror(1, 'logs.http', ("option 'labels': invalid label name '%s' (letters, digits and _,"
                .. " not starting with a digit)"):format(name))
        end
        if OWN_FIELDS[format][name] then
            argerror(1, 'logs.http', ("option 'labels': '%s' is set by each record"):format(name))
        end
        if type(value) ~= 'string' and type(value) ~= 'number' then
            argerror(1, 'logs.http', ("option 'labels': label '%s': string expected, got %s")
                :format(name, type(value)))
        end
        names[#names + 1] = name
    end
    table.sort(names)
    local flat = {}
    for _, name in ipairs(names) do
        flat[#flat + 1] = name
        flat[#flat + 1] = tostring(labels[name])
    end
    return flat
end

--- logs.http{url=, format='loki', labels={}, headers={}, timeout=10, ...} -> sink
function M.http(opts)
    check(1, 'logs.http', opts, 'table')
    args.options(1, 'logs.http', opts, HTTP)
    if opts.url == nil then
        argerror(1, 'logs.http', "option 'url' is required")
    end
    one_of('logs.http', opts, 'format', HTTP_FORMAT)
    local timeout = opts.timeout
    if timeout ~= nil and not (timeout > 0 and timeout < math.huge) then
        argerror(1, 'logs.http', "option 'timeout': positive number of seconds expected, got "
            .. tostring(timeout))
    end
    local format = opts.format or 'loki'
    return declared('http', 'logs.http', core.log_http(opts.url, format,
        flat_labels(opts.labels or {}, format), args.headers(1, 'logs.http', opts.headers or {}),
        timeout or 10, queue_options('logs.http', opts)))
end

local function sink_list(value)
    if getmetatable(value) == Sink then
        return { value._id }
    end
    if type(value) ~= 'table' then
        argerror(1, 'logs.route', "option 'to': a sink or a list of sinks expected, got " .. type(value))
    end
    local ids = {}
    for i, sink in ipairs(value) do
        if getmetatable(sink) ~= Sink then
            argerror(1, 'logs.route', ("option 'to': sink expected at [%d], got %s"):format(i, type(sink)))
        end
        ids[i] = sink._id
    end
    return ids
end

local ROUTE = { name = 'string|table', stream = 'string', match = 'string', to = 'table|function|string|number|boolean|userdata', drop = 'boolean',
                final = 'boolean' }
local ROUTE_STREAM = { "'stdout' or 'stderr'", stdout = 1, stderr = 1 }

--- logs.route{name=, stream=, match=, to=, drop=, final=}
function M.route(opts)
    check(1, 'logs.route', opts, 'table')
    args.options(1, 'logs.route', opts, ROUTE)
    one_of('logs.route', opts, 'stream', ROUTE_STREAM)
    if opts.drop and opts.to then
        argerror(1, 'logs.route', "a route either drops or goes 'to' sinks, not both")
    end
    if not opts.drop and not opts.to then
        argerror(1, 'logs.route', "option 'to' (sinks) or 'drop = true' expected")
    end
    if type(opts.to) == 'table' and getmetatable(opts.to) ~= Sink and #opts.to == 0 then
        argerror(1, 'logs.route', "option 'to': at least one sink expected (drop = true discards)")
    end
    local names = opts.name
    if type(names) == 'string' then
        names = { names }
    elseif names then
        for i, n in ipairs(names) do
            if type(n) ~= 'string' then
                argerror(1, 'logs.route', ("option 'name': names expected, got %s at [%d]"):format(type(n), i))
            end
        end
    end
    local ok, err = core.log_route(names, opts.stream, opts.match, opts.to and sink_list(opts.to) or {},
        opts.drop or opts.final or false)
    if not ok then
        task.raise('logs.route: ' .. tostring(err))
    end
end

local Watch = {}
Watch.__index = Watch

--- logs.watch(name, pattern [, stream]) -> watch: waits for the first line
-- of the records of `name` (on `stream`, or either) that matches the Lua
-- pattern; records are only watched while they go through the bus
-- (stdout/stderr = 'log'). watch:wait([timeout]) -> the line, or nil once
-- cancelled or timed out; either way the watch is over (wait again: nil).
-- watch:cancel() ends one not waited for.
function M.watch(name, pattern, stream)
    check(1, 'logs.watch', name, 'string')
    check(2, 'logs.watch', pattern, 'string')
    if stream ~= nil and not ROUTE_STREAM[stream] then
        argerror(3, 'logs.watch', ("'stdout' or 'stderr' expected, got %s"):format(
            type(stream) == 'string' and "'" .. stream .. "'" or type(stream)))
    end
    local id, err = core.log_watch(name, stream, pattern)
    if not id then
        task.raise('logs.watch: ' .. tostring(err))
    end
    return setmetatable({ _w = id }, Watch)
end

function Watch:wait(timeout)
    check_self(self, Watch, 'watch', 'wait')
    args.timeout(1, 'wait', timeout)
    return (task.await('watch:wait', 'log_watch_wait', self._w, timeout))
end

function Watch:cancel()
    check_self(self, Watch, 'watch', 'cancel')
    core.log_unwatch(self._w)
end

--- logs.active() -> whether the policy declared any sink or route
function M.active()
    return core.log_configured()
end

--- sink:stats() -> {kind, label, queued, delivered, delivered_bytes, dropped, dropped_bytes, ...}
function Sink:stats()
    check_self(self, Sink, 'sink', 'stats')
    return core.log_stats(self._id)
end

--- sink:flush(): deliver what is queued now, without waiting for a full batch
function Sink:flush()
    check_self(self, Sink, 'sink', 'flush')
    core.log_flush(self._id)
end

--- file:reopen(): reopen the file by its path (after an outside rotation)
function Sink:reopen()
    check_self(self, Sink, 'sink', 'reopen')
    if self._kind ~= 'file' then
        task.raise('sink:reopen: only a file sink can be reopened, this is a ' .. self._kind .. ' sink')
    end
    core.log_reopen(self._id)
end

--- ring:tail([name [, n]]) -> the last n records of name (every name if nil), oldest first;
-- each record {name, stream, pid, line, time}
function Sink:tail(name, n)
    check_self(self, Sink, 'sink', 'tail')
    if self._kind ~= 'ring' then
        task.raise('sink:tail: only a ring sink keeps records, this is a ' .. self._kind .. ' sink')
    end
    if name ~= nil then
        check(1, 'tail', name, 'string')
    end
    if n ~= nil then
        args.integer(2, 'tail', n, 0, math.huge, 'non-negative whole number')
    end
    return core.log_tail(self._id, name, n)
end

function Sink:__tostring()
    return 'sink ' .. tostring(core.log_stats(self._id).label)
end

task.guard_all(M)

-- Strict, as init is: a typo such as logs.fiel is an error that names it.
return setmetatable(M, {
    __index = function(_, key)
        task.raise(("logs has no field '%s'"):format(tostring(key)))
    end,
})
