-- A service's declaration, checked and completed with the defaults. Errors
-- read like init's: bad argument #2 to 'service' (option 'restart': ...).
local args = require('luasup.args')
local exec_options = require('luasup.process').OPTIONS
local probes = require('supervise.probes')

local M = {}

-- The library's own options; every init.exec option is accepted as well.
local OWN = {
    cmd = 'table|string', after = 'table|string', critical = 'boolean|string',
    restart = 'string', success = 'table|number', backoff = 'table', limit = 'table|boolean',
    ready = 'table|function|number', health = 'table|function', stop = 'table|string',
    timeout = 'number', pre_start = 'function|table', post_exit = 'function|table',
    hook_timeout = 'number', autostart = 'boolean', on_demand = 'boolean|table',
}
local ALL = {}
for k, v in pairs(OWN) do ALL[k] = v end
for k, v in pairs(exec_options) do ALL[k] = v end

M.DEFAULTS = {
    backoff = { initial = 1, factor = 2, max = 30, jitter = 0, reset_after = 60 },
    limit = { burst = 5, within = 60 },
    ready = { every = 0.5, timeout = 1, deadline = 60 },
    health = { every = 10, timeout = 1, failures = 3, successes = 1, initial_delay = 0 },
    hook_timeout = 30,
}

local function fail(fname, message)
    args.argerror(2, fname, message)
end

local function number(fname, option, value, low, integer)
    if type(value) ~= 'number' then
        fail(fname, ("option '%s': number expected, got %s"):format(option, type(value)))
    elseif not (value >= low and value < math.huge) or (integer and value % 1 ~= 0) then
        local want = integer and ('integer >= %d'):format(low)
            or low >= 1 and ('number >= %g'):format(low)
            or low > 0 and 'positive finite number' or 'non-negative finite number'
        fail(fname, ("option '%s': %s expected, got %s"):format(option, want, tostring(value)))
    end
    return value
end

-- A table of numeric fields over defaults: {initial = 1, ...}.
local function fields(fname, option, given, defaults, rules)
    local out = {}
    for k, v in pairs(defaults) do out[k] = v end
    for k, v in pairs(given or {}) do
        if defaults[k] == nil and not (rules and rules[k]) then
            fail(fname, ("option '%s': unknown field '%s'"):format(option, tostring(k)))
        end
        local rule = rules and rules[k] or { 0 }
        if rule ~= 'any' then
            out[k] = number(fname, option .. '.' .. k, v, rule[1], rule[2])
        else
            out[k] = v
        end
    end
    return out
end

local function names(fname, option, value)
    if type(value) == 'string' then
        return { value }
    end
    local out = {}
    for i, v in ipairs(value) do
        if type(v) ~= 'string' then
            fail(fname, ("option '%s': service names expected, got %s at %d"):format(option, type(v), i))
        end
        out[i] = v
    end
    return out
end

local function probe_of(fname, option, value)
    local p = probes.from(value)
    if not p then
        fail(fname, ("option '%s': a probe (sup.http, sup.tcp, ...) or a function expected, got %s")
            :format(option, type(value)))
    end
    return p
end

local function ready_of(fname, value)
    if value == nil then
        return nil
    elseif type(value) == 'number' then
        return { probe = probes.delay(number(fname, 'ready', value, 0)), deadline = value + 60,
            every = value, timeout = 1, first = value }
    elseif type(value) == 'function' or getmetatable(value) == probes.Probe then
        value = { probe = value }
    end
    local r = fields(fname, 'ready', value, M.DEFAULTS.ready,
        { probe = 'any', every = { 0.001 }, timeout = { 0.001 }, deadline = { 0 } })
    r.probe = probe_of(fname, 'ready.probe', value.probe)
    if r.probe.kind == 'delay' then
        r.first, r.every = r.probe.seconds, r.probe.seconds
    end
    return r
end

local function health_of(fname, value)
    if value == nil then
        return nil
    elseif type(value) == 'function' or getmetatable(value) == probes.Probe then
        value = { probe = value }
    end
    local h = fields(fname, 'health', value, M.DEFAULTS.health, {
        probe = 'any', every = { 0.001 }, timeout = { 0.001 }, failures = { 1, true },
        successes = { 1, true } })
    h.probe = probe_of(fname, 'health.probe', value.probe)
    if h.probe.kind == 'notify' or h.probe.kind == 'output' or h.probe.kind == 'delay' then
        fail(fname, ("option 'health.probe': a %s probe only tells readiness"):format(h.probe.kind))
    end
    return h
end

local function stop_of(fname, value)
    if type(value) == 'string' then
        value = { signal = value }
    end
    value = value or {}
    local out = { signal = 15 } -- timeout nil: the grace period in force when it stops
    for k, v in pairs(value) do
        if k == 'signal' then
            local ok, signo = pcall(args.signal, 2, fname, v)
            if not ok then -- the same words, with the option named
                fail(fname, "option 'stop.signal': " .. tostring(signo):match("%(([^()]*)%)$"))
            end
            out.signal = signo
        elseif k == 'timeout' then
            out.timeout = number(fname, 'stop.timeout', v, 0)
        else
            fail(fname, ("option 'stop': unknown field '%s'"):format(tostring(k)))
        end
    end
    return out
end

local function hook_of(fname, option, value)
    if type(value) == 'table' and type(value[1]) ~= 'string' then
        fail(fname, ("option '%s': a function or a command table expected"):format(option))
    end
    return value
end

-- on_demand = true | {idle = seconds, listen = listeners, proxy = address}:
-- started by the first connection to one of its listeners (its fds; with
-- proxy, `listen`, where luasup accepts and connects clients through to
-- `proxy` once the service is ready), stopped after `idle` s without one.
local function on_demand_of(fname, kind, spec)
    local value = spec.on_demand
    if not value then
        return nil
    elseif kind ~= 'service' then
        fail(fname, "option 'on_demand': a oneshot runs once, not on demand")
    end
    local Listener = require('luasup.probes').Listener
    local out = fields(fname, 'on_demand', value ~= true and value or nil,
        { idle = false, listen = false, proxy = false }, { idle = { 0.001 }, listen = 'any', proxy = 'any' })
    if out.proxy then
        if type(out.proxy) ~= 'string' or not (out.proxy:find('^tcp://.+:%d+$') or out.proxy:find('^unix://.')) then
            fail(fname, "option 'on_demand.proxy': an address (tcp://HOST:PORT, unix:///PATH) expected, got "
                .. (type(out.proxy) == 'string' and "'" .. out.proxy .. "'" or type(out.proxy)))
        end
        local listen = getmetatable(out.listen) == Listener and { out.listen } or out.listen
        if type(listen) ~= 'table' or getmetatable(listen[1]) ~= Listener then
            fail(fname, "option 'on_demand.listen': a listener (init.listen) or a list of them expected")
        end
        for i, l in ipairs(listen) do
            if getmetatable(l) ~= Listener then
                fail(fname, ("option 'on_demand.listen': listener expected at %d, got %s"):format(i, type(l)))
            end
        end
        out.listen = listen
    elseif out.listen then
        fail(fname, "option 'on_demand.listen': only with 'proxy'; a service that takes the socket gets it in 'fds'")
    elseif getmetatable((spec.fds or {})[1]) ~= Listener then
        fail(fname, "option 'on_demand': the service needs a listener in 'fds' (init.listen), or 'listen' and 'proxy'")
    end
    out.idle, out.proxy, out.listen = out.idle or nil, out.proxy or nil, out.listen or nil
    return out
end

local POLICIES = { always = true, ['on-failure'] = true, never = true }

-- Check `spec` for sup.service (kind 'service') or sup.oneshot.
function M.check(fname, kind, name, spec)
    args.check(1, fname, name, 'string')
    if name == '' or name:find('[%s%c]') then
        args.argerror(1, fname, ("service name without spaces expected, got '%s'"):format(name))
    end
    args.check(2, fname, spec, 'table')
    args.options(2, fname, spec, ALL)
    local s = { kind = kind, name = name, exec = {} }
    local cmd = spec.cmd
    if cmd == nil and spec[1] ~= nil then
        cmd = {}
        for i, v in ipairs(spec) do cmd[i] = v end
    elseif type(cmd) == 'string' then
        cmd = { cmd }
    end
    if cmd == nil or cmd[1] == nil then
        fail(fname, "option 'cmd': a command expected, got nothing")
    end
    s.cmd = cmd
    for k in pairs(exec_options) do
        s.exec[k] = spec[k]
    end
    s.after = spec.after and names(fname, 'after', spec.after) or {}
    local critical = spec.critical
    if critical == nil then
        critical = kind == 'oneshot'
    elseif critical ~= true and critical ~= false and critical ~= 'exit' then
        fail(fname, "option 'critical': true, false or 'exit' expected, got '" .. tostring(critical) .. "'")
    end
    s.critical = critical
    s.restart = spec.restart or (kind == 'oneshot' and 'never' or 'always')
    if not POLICIES[s.restart] then
        fail(fname, "option 'restart': 'always', 'on-failure' or 'never' expected, got '" .. s.restart .. "'")
    end
    s.success = {} -- exit code -> true
    for _, code in ipairs(type(spec.success) == 'number' and { spec.success } or spec.success or { 0 }) do
        if type(code) ~= 'number' or code % 1 ~= 0 or code < 0 or code > 255 then
            fail(fname, ("option 'success': exit codes 0-255 expected, got %s"):format(
                type(code) == 'number' and tostring(code) or type(code)))
        end
        s.success[code] = true
    end
    s.backoff = fields(fname, 'backoff', spec.backoff, M.DEFAULTS.backoff,
        { initial = { 0 }, factor = { 1 }, max = { 0 }, jitter = { 0 }, reset_after = { 0 } })
    if s.backoff.jitter > 1 then
        fail(fname, "option 'backoff.jitter': a fraction from 0 to 1 expected, got " .. s.backoff.jitter)
    end
    if spec.limit == true then
        fail(fname, "option 'limit': a table or false expected, got true")
    end
    s.limit = spec.limit ~= false and fields(fname, 'limit', spec.limit, M.DEFAULTS.limit,
        { burst = { 0, true }, within = { 0.001 } }) or nil
    if kind == 'oneshot' and (spec.ready ~= nil or spec.health ~= nil) then
        fail(fname, "a oneshot is ready when it exits successfully: no 'ready' or 'health'")
    end
    s.ready = ready_of(fname, spec.ready)
    if s.ready and s.ready.probe.kind == 'notify' then
        s.exec.notify = true
    elseif s.ready and s.ready.probe.kind == 'output' then
        for _, stream in ipairs(s.ready.probe.stream and { s.ready.probe.stream } or { 'stdout', 'stderr' }) do
            if type(spec[stream]) == 'string' and spec[stream]:find('/') then
                fail(fname, ("option 'ready': sup.output cannot watch %s written to a file; watch the other stream or use a function"):format(stream))
            end
        end
    end
    s.health = health_of(fname, spec.health)
    s.stop = stop_of(fname, spec.stop)
    s.timeout = spec.timeout and number(fname, 'timeout', spec.timeout, 0.001)
    s.pre_start = spec.pre_start and hook_of(fname, 'pre_start', spec.pre_start)
    s.post_exit = spec.post_exit and hook_of(fname, 'post_exit', spec.post_exit)
    s.autostart = spec.autostart ~= false
    s.on_demand = on_demand_of(fname, kind, spec)
    s.hook_timeout = spec.hook_timeout and number(fname, 'hook_timeout', spec.hook_timeout, 0.001)
        or M.DEFAULTS.hook_timeout
    return s
end

return M
