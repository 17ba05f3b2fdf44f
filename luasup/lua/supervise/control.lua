-- The control socket's methods (docs/ctl.md), each a call into the
-- supervision library's runtime API: the socket, its peers and its limits
-- are the core's (luasup/ctl/), what a request means is decided here.
local init = require('init')
local core = require('luasup.core')
local task = require('luasup.task')
local args = require('luasup.args')
local runner = require('supervise.runner')

local M = {}

-- JSON-RPC error codes (luasup/ctl/protocol.py)
local METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32601, -32602, -32603
local NO_SUCH_SERVICE, FAILED, LUA_ERROR = -32001, -32002, -32010

local EVAL_LIMIT = 5 -- seconds a step may run once eval is used; the core bounds an eval's waits too
local WAIT_DEFAULT = 60 -- seconds start and restart wait for the state change

local settings = { enabled = true, allow = {}, eval = false }
local hub, sup -- set by M.serve
local serving = false

local SPEC = { path = 'string', allow = 'table', eval = 'boolean', logs = 'table', metrics = 'string' }
local ACCESS = { read = true, full = true }

--- sup.control{path=, allow=, eval=, logs=, metrics=} | sup.control(false)
function M.configure(opts)
    if opts == false then
        settings.enabled = false
        return
    end
    args.check(1, 'control', opts, 'table')
    args.options(1, 'control', opts, SPEC)
    local allow = {}
    for who, access in pairs(opts.allow or {}) do
        if type(who) ~= 'number' and type(who) ~= 'string' then
            args.argerror(1, 'control', "option 'allow': uids or user names expected as keys, got " .. type(who))
        elseif not ACCESS[access] then
            args.argerror(1, 'control', ("option 'allow': 'read' or 'full' expected for %s, got %s")
                :format(tostring(who), tostring(access)))
        end
        allow[who] = access
    end
    if opts.logs ~= nil and opts.logs._kind ~= 'ring' then
        args.argerror(1, 'control', "option 'logs': a logs.ring sink expected")
    end
    settings = { enabled = true, path = opts.path, allow = allow, eval = opts.eval or false,
        ring = opts.logs and opts.logs._id, metrics = opts.metrics }
end

-- -- statuses --------------------------------------------------------------

-- The library's times are init.now()'s clock: a client gets durations.
local function with_times(st, now)
    st['for'] = now - st.since
    st.uptime = st.started and now - st.started or nil
    st.since, st.started = nil, nil
    if st.last_exit then
        st.last_exit.ago, st.last_exit.time = now - st.last_exit.time, nil
    end
    return st
end

local function statuses()
    local now = init.now()
    local out = sup.list()
    for _, st in ipairs(out) do
        with_times(st, now)
    end
    return out
end

local function service(params)
    local name = params.name
    if type(name) ~= 'string' then
        return nil, INVALID_PARAMS, "invalid params: 'name' (a string) expected"
    end
    local st = sup.status(name)
    if not st then
        return nil, NO_SUCH_SERVICE, ("no service '%s'"):format(name)
    end
    return st
end

-- params.names: a non-empty list of declared services, or an error; and
-- no change once the ordered stop has begun (it would break its order).
local function names_of(params)
    if hub.stopping_all then
        return nil, FAILED, 'luasup is stopping'
    end
    local names = params.names
    if type(names) ~= 'table' or #names == 0 then
        return nil, INVALID_PARAMS, "invalid params: 'names' (a list of service names) expected"
    end
    for _, name in ipairs(names) do
        if type(name) ~= 'string' then
            return nil, INVALID_PARAMS, "invalid params: 'names' must hold strings"
        elseif not hub.services[name] then
            return nil, NO_SUCH_SERVICE, ("no service '%s'"):format(name)
        end
    end
    return names
end

-- -- commands --------------------------------------------------------------

-- States a start has come to an end in: up, or down for a reason `why` says.
local UP = { running = true, done = true }
local DOWN = { failed = true, exited = true, stopped = true, backoff = true }

-- Why a blocked start (hub.blocked: a dependency, or one of its own, has
-- come to rest unsatisfied) waits: its first dependency not satisfied.
local function blocked_on(svc)
    for _, dep in ipairs(svc.spec.after) do
        local d = hub.services[dep]
        if d and not runner.satisfied(d) then
            return ('waiting for %s (%s)'):format(dep, d.state)
        end
    end
end

-- Wait until the start begun at `begun` (init.now()) has come to an end.
local function wait_settled(name, begun, timeout)
    local deadline = begun + timeout
    while true do
        local svc = hub.services[name]
        if not svc then
            return false, 'removed'
        end
        local fresh = svc.since >= begun -- a state of this start, not of before it
        if fresh and UP[svc.state] then
            return true
        elseif fresh and DOWN[svc.state] then
            return false
        elseif hub.blocked(svc) then
            return false, blocked_on(svc)
        end
        local left = deadline - init.now()
        if left <= 0 then
            return false, ('still %s after %g s'):format(svc.state, timeout)
        end
        init.wait_any(svc.changed:task(), left)
    end
end

local function result(name, ok, why)
    local svc = hub.services[name]
    return { name = name, ok = ok, state = svc and svc.state, why = why or (svc and svc.why) }
end

local function starting(params, restart)
    local names, code, message = names_of(params)
    if not names then
        return nil, code, message
    end
    local timeout = tonumber(params.timeout) or WAIT_DEFAULT
    local out = {}
    for i, name in ipairs(names) do
        local ok, why = true, nil
        if restart and params.wait == false then -- the stop too goes on in a task of its own
            init.spawn(sup.restart, name)
            out[i] = result(name, true)
            goto next
        elseif restart then
            ok, why = sup.stop(name)
        end
        local begun = init.now()
        if ok then
            ok, why = sup.start(name)
            if why == 'already started' then -- "make sure it runs" succeeds
                ok, begun = true, -math.huge
            end
        end
        if ok and params.wait ~= false then
            ok, why = wait_settled(name, begun, timeout)
        end
        out[i] = result(name, ok or false, why)
        ::next::
    end
    return { results = out }
end

local methods = {}

function methods.list()
    return { services = statuses() }
end

function methods.status(params)
    local st, code, message = service(params)
    return st and with_times(st, init.now()), code, message
end

function methods.start(params)
    return starting(params, false)
end

function methods.restart(params)
    return starting(params, true)
end

function methods.stop(params)
    local names, code, message = names_of(params)
    if not names then
        return nil, code, message
    end
    local out = {}
    for i, name in ipairs(names) do
        if params.wait == false then -- the stop goes on in a task of its own
            init.spawn(sup.stop, name)
            out[i] = result(name, true)
        else
            local ok, why = sup.stop(name)
            out[i] = result(name, ok or false, why)
        end
    end
    return { results = out }
end

function methods.kill(params)
    local st, code, message = service(params)
    if not st then
        return nil, code, message
    end
    local sig = params.signal or 'TERM'
    local good, signo = pcall(args.signal, 2, 'kill', sig)
    if not good or type(sig) == 'table' then
        return nil, INVALID_PARAMS, ('invalid params: bad signal %s'):format(tostring(sig))
    end
    local ok, why = sup.signal(st.name, signo)
    if not ok then
        return nil, FAILED, ('%s: %s'):format(st.name, tostring(why))
    end
    return { name = st.name, signal = core.signal_name(signo) }
end

function methods.why(params)
    local st, code, message = service(params)
    if not st then
        return nil, code, message
    end
    local waiting_for = {}
    for _, dep in ipairs(st.state == 'waiting' and st.after or {}) do
        local d = hub.services[dep]
        if d and not runner.satisfied(d) then
            waiting_for[#waiting_for + 1] = ('%s (%s)'):format(dep, d.state)
        end
    end
    st = with_times(st, init.now())
    return { name = st.name, state = st.state, why = st.why, ['for'] = st['for'], restarts = st.restarts,
        waiting_for = waiting_for, last_exit = st.last_exit }
end

function methods.reload(params)
    local plan, why = sup.reload({ dry_run = params.dry_run or false, dependents = params.dependents or false })
    if not plan then
        return nil, FAILED, 'reload failed, nothing changed: ' .. tostring(why)
    end
    plan.dry_run = params.dry_run or false
    return plan
end

-- Answered once the new luasup passed its check; the hand-over follows in
-- a task of its own, once the answer is out (the client then watches
-- `hello` for the new generation, or for a failure).
function methods.reexec()
    local ok, version = hub.reexec_ready()
    if not ok then
        return nil, FAILED, 're-exec refused, nothing changed: ' .. tostring(version)
    end
    init.spawn(hub.reexec_now)
    return { to = version }
end

function methods.tree()
    local out = {}
    for i, st in ipairs(sup.list()) do
        out[i] = { name = st.name, state = st.state, after = st.after }
    end
    return { services = out }
end

-- A service that counts for health: the critical ones; when the policy
-- marks none, every service that is meant to run (not stopped on request).
local function counted(list)
    local critical = {}
    for _, st in ipairs(list) do
        if st.critical then
            critical[#critical + 1] = st
        end
    end
    if #critical > 0 then
        return critical
    end
    local out = {}
    for _, st in ipairs(list) do
        if st.state ~= 'stopped' then
            out[#out + 1] = st
        end
    end
    return out
end

local function described(st)
    return ('%s: %s (%s)'):format(st.name, st.state, tostring(st.why))
end

function methods.health()
    local problems = {}
    if hub.stopping_all then
        problems[1] = 'luasup is stopping'
    end
    for _, st in ipairs(counted(sup.list())) do
        local fine
        if st.kind == 'oneshot' then
            fine = st.state == 'done' or st.state == 'running' or st.state == 'starting'
        else -- an exit that is not restarted is no fault (sup.run() counts it finished)
            fine = st.state == 'running' and st.healthy ~= false or st.state == 'exited'
                or st.state == 'idle' -- on demand: its sockets take connections
        end
        if not fine then
            problems[#problems + 1] = st.healthy == false and st.state == 'running'
                and ('%s: unhealthy (%s)'):format(st.name, tostring(st.health_why)) or described(st)
        end
    end
    return { healthy = #problems == 0, problems = problems }
end

function methods.ready()
    local waiting = {}
    if hub.stopping_all then
        waiting[1] = 'luasup is stopping'
    end
    -- but those stopped on request, never started, or exited for good
    for _, st in ipairs(sup.list()) do
        if st.state ~= 'stopped' and st.state ~= 'exited' and not runner.satisfied(hub.services[st.name]) then
            waiting[#waiting + 1] = described(st)
        end
    end
    return { ready = #waiting == 0, waiting = waiting }
end

-- -- eval ------------------------------------------------------------------

-- A value as the REPL shows it: tables one level deep, at most 50 fields.
local function show(value, depth)
    if type(value) == 'string' then
        return depth and ('%q'):format(value) or value
    elseif type(value) ~= 'table' or (depth or 0) > 1 then
        return tostring(value)
    end
    local parts, n = {}, 0
    for k, v in pairs(value) do
        n = n + 1
        if n > 50 then
            parts[#parts + 1] = '...'
            break
        end
        local key = type(k) == 'string' and k:match('^[%a_][%w_]*$') and k or '[' .. show(k, 1) .. ']'
        parts[#parts + 1] = key .. ' = ' .. show(v, (depth or 0) + 1)
    end
    return '{ ' .. table.concat(parts, ', ') .. ' }'
end

-- A runaway eval is interrupted: once eval is first used, a count hook
-- checks how long the running step of any task has gone without yielding
-- and raises an error past EVAL_LIMIT (in code the eval spawned, too).
-- Count hooks do not fire in compiled code: the JIT compiler is turned off
-- from then on. A C function that blocks (a huge string.rep, a
-- pathological pattern) cannot be interrupted.
local guarded = false
local function guard()
    if core.ctl_step_age() > EVAL_LIMIT then
        error(('interrupted: ran for more than %g s without yielding'):format(EVAL_LIMIT), 2)
    end
end

local function arm_guard()
    if not guarded then
        guarded = true
        jit.off()
        jit.flush()
        debug.sethook(guard, '', 10000)
    end
end

local sessions = {} -- connection number -> its globals, for a REPL's assignments

function M.forget(session)
    sessions[session] = nil
end

local function environment(session)
    local env = sessions[session]
    if not env then
        env = setmetatable({ sup = sup, init = init, logs = package.loaded.logs }, { __index = _G })
        sessions[session] = env
    end
    return env
end

-- The error and the frames of the eval'd code (the rest are luasup's).
local function eval_traceback(err)
    local lines = {}
    for line in debug.traceback(tostring(err), 2):gmatch('[^\n]+') do
        if #lines == 0 or line:find('^%s*eval:') then
            lines[#lines + 1] = line
        end
    end
    if #lines > 1 then
        table.insert(lines, 2, 'stack traceback:')
    end
    return table.concat(lines, '\n')
end

local function pack(...)
    return { n = select('#', ...), ... }
end

function methods.eval(params, session)
    if type(params.code) ~= 'string' then
        return nil, INVALID_PARAMS, "invalid params: 'code' (a string) expected"
    end
    -- an expression shows its value, as in the lua REPL; it is packed by
    -- a function the chunk gets as `...`, not returned as a tail call,
    -- which would take its position from a call's error
    local fn, err = loadstring('return (...)(' .. params.code .. '\n)', '=eval')
    local packed = fn ~= nil
    if not fn then
        fn, err = loadstring(params.code, '=eval')
    end
    if not fn then
        return nil, LUA_ERROR, err
    end
    setfenv(fn, environment(session))
    arm_guard()
    local out = pack(xpcall(fn, eval_traceback, pack))
    if packed and out[1] then
        out = pack(true, unpack(out[2], 1, out[2].n))
    end
    if not out[1] then
        return nil, LUA_ERROR, tostring(out[2])
    end
    local values = {}
    for i = 2, out.n do
        local ok, text = pcall(show, out[i]) -- a __tostring may fail, or loop (the guard ends it)
        values[i - 1] = ok and text or ('(error showing a %s: %s)'):format(type(out[i]), tostring(text))
    end
    return { values = values }
end

-- -- the core's side -------------------------------------------------------

-- Called by the core in a task of its own for each request: a result
-- table, or nil, an error code and a message.
local function dispatch(method, params, session)
    local fn = methods[method]
    if not fn then
        return nil, METHOD_NOT_FOUND, 'method not found: ' .. tostring(method)
    end
    local ok, out, code, message = xpcall(fn, task.traceback, params, session)
    if not ok then
        return nil, INTERNAL_ERROR, 'internal error: ' .. tostring(out)
    end
    return out, code, message
end

-- sup.run() serves the socket unless the policy said sup.control(false).
function M.serve(the_hub, the_sup)
    hub, sup = the_hub, the_sup
    if not settings.enabled then
        return
    end
    serving = core.ctl_serve(settings.path, settings.allow, settings.eval, settings.ring, settings.metrics,
        dispatch, M.forget, EVAL_LIMIT)
end

-- A state change, for the followers of `events`.
function M.event(event)
    if serving then
        core.ctl_event(event)
    end
end

return M
