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
M.Sink = Sink

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

local function positive(fname, opts, key)
    local v = opts[key]
    if v ~= nil and not (v >= 0 and v < math.huge) then
        argerror(1, fname, ("option '%s': non-negative number expected, got %s"):format(key, tostring(v)))
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
    return opts.max_bytes, opts.full, opts.batch_bytes, opts.batch_time
end

local function declared(kind, fname, id, err)
    if not id then
        task.raise(fname .. ': ' .. tostring(err))
    end
    return setmetatable({ _id = id, _kind = kind }, Sink)
end
M.declared = declared
M.queue_options = queue_options
M.spec_with = spec_with
M.one_of = one_of
M.positive = positive

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
        positive('logs.file', rotate, key)
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

local ROUTE = { name = 'string|table', stream = 'string', match = 'string', to = 'table', drop = 'boolean',
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
    local names = opts.name
    if type(names) == 'string' then
        names = { names }
    elseif names then
        for i, n in ipairs(names) do
            check(1, 'logs.route', n, 'string')
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
-- cancelled or timed out; watch:cancel().
function M.watch(name, pattern, stream)
    check(1, 'logs.watch', name, 'string')
    check(2, 'logs.watch', pattern, 'string')
    if stream ~= nil and not ROUTE_STREAM[stream] then
        argerror(3, 'logs.watch', "'stdout' or 'stderr' expected, got " .. tostring(stream))
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
    return 'sink ' .. self._kind .. ' ' .. tostring(core.log_stats(self._id).label)
end

return M
