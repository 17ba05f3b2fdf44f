-- Reload: run the policy file again and bring the running services in line
-- with what it now declares. The file runs in an environment of its own
-- (fresh globals, fresh copies of the modules it requires from beside it)
-- where require('supervise') collects declarations instead of starting
-- anything, and sup.run() ends the run. Then the declarations are compared
-- with the running services by their whole specification: new services
-- start, removed ones stop, changed ones restart, the rest are untouched
-- (same process, same pipes, same counters). Anything wrong in the new
-- policy (an error, an unknown dependency, a cycle) changes nothing.
-- Reference: docs/live.md.
local init = require('init')
local task = require('luasup.task')
local spec = require('supervise.spec')
local probes = require('supervise.probes')
local args = require('luasup.args')
local listeners = require('luasup.probes') -- init's: listener_for
local graph = require('supervise.graph')

local M = {}

-- Raised by the collector's run(): the policy has declared everything.
local DECLARED = setmetatable({}, { __tostring = function() return 'sup.run() reached' end })

local function refuse(name)
    return function()
        error(("%s is not run again by a reload: guard it with `if not sup.reloading then ... end`")
            :format(name), 2)
    end
end

-- What `require('supervise')` is during a reload; once the reload is over
-- it is the library itself, for the functions of the new declarations.
local function collector(live, declared)
    local collecting = true
    local own = { reloading = true }
    local function declare(kind)
        return function(name, options)
            local s = spec.check(kind, kind, name, options)
            if declared.services[name] then -- as the library's own declare says it
                args.argerror(1, kind, ("a service named '%s' is already declared"):format(name))
            end
            declared.services[name] = s
            declared.order[#declared.order + 1] = name
            return name
        end
    end
    own.service, own.oneshot = declare('service'), declare('oneshot')
    own.run = function() error(DECLARED, 0) end
    own.control = function() end -- the socket is the first run's
    own.on = function() end -- state handlers are the first run's
    own.reload_on = function() end
    for _, name in ipairs({ 'http', 'tcp', 'command', 'notify', 'output', 'delay' }) do
        own[name] = probes[name]
    end
    for _, name in ipairs({ 'start', 'stop', 'restart', 'signal', 'remove', 'shutdown', 'reload' }) do
        own[name] = refuse('sup.' .. name)
    end
    local sup = setmetatable({}, { __index = function(_, k)
        if collecting then return own[k] end
        return live[k]
    end })
    return sup, function() collecting = false end
end

-- init during a reload: what starts something is refused (it already runs
-- from the first run); init.listen gives the socket the first run opened
-- for the same address and name (a new one for a new address, closed
-- again if the reload fails); the rest is init itself.
local STARTS = { 'exec', 'spawn', 'every', 'after', 'on', 'on_exit', 'exit', 'watch', 'wait' }
local function init_proxy(opened)
    local instead = {} -- what init's functions are during a reload
    for _, name in ipairs(STARTS) do instead[name] = refuse('init.' .. name) end
    instead.listen = function(address, opts)
        local name = type(opts) == 'table' and opts.name or 'listener'
        local existing = type(address) == 'string' and type(name) == 'string'
            and listeners.listener_for(address, name)
        if existing then
            return existing
        end
        local l, err = init.listen(address, opts)
        opened[#opened + 1] = l
        return l, err
    end
    local collecting = true
    return setmetatable({}, { __index = function(_, k)
        if collecting and instead[k] then return instead[k] end
        return init[k]
    end }), function() collecting = false end
end

-- logs during a reload: sinks and routes stay as first declared; their
-- declarations are skipped (a sink is an inert placeholder).
local function logs_proxy()
    local logs = require('logs')
    local collecting = true
    local inert = setmetatable({}, { __index = function() return function() end end })
    return setmetatable({}, { __index = function(_, k)
        if collecting and type(logs[k]) == 'function' then
            return function() return inert end
        end
        return logs[k]
    end }), function() collecting = false end
end

-- Run the policy at `path` with `args` in an environment of its own:
-- declared = {order = {names}, services = {name -> spec}}, or nil and why.
local function collect(path, args, live)
    local f, err = io.open(path, 'rb')
    if not f then
        return nil, 'cannot read ' .. tostring(err)
    end
    local source = f:read('*a')
    f:close()
    if source:sub(1, 2) == '#!' then -- as the first run: keep line numbers
        source = '--' .. source:sub(3)
    end
    local chunk
    chunk, err = loadstring(source, '@' .. path)
    if not chunk then
        return nil, err
    end
    local declared = { order = {}, services = {} }
    local opened = {} -- listeners the new run opened
    local sup, sup_done = collector(live, declared)
    local init_p, init_done = init_proxy(opened)
    local logs_p, logs_done = logs_proxy()
    local env = setmetatable({}, { __index = _G })
    env._G = env
    local dir = path:match('^(.*)/[^/]*$') or '.'
    local loaded = { supervise = sup, init = init_p, logs = logs_p }
    -- modules beside the policy are loaded afresh in its environment; the
    -- rest (luasup's own, installed ones) are the ones already loaded
    env.require = function(name)
        if loaded[name] ~= nil then
            return loaded[name]
        end
        local file = package.searchpath(name, dir .. '/?.lua;' .. dir .. '/?/init.lua')
        if not file then
            return require(name)
        end
        local mod, merr = loadfile(file)
        if not mod then
            error(merr, 2)
        end
        setfenv(mod, env)
        local value = mod(name)
        if value == nil then value = true end
        loaded[name] = value
        return value
    end
    setfenv(chunk, env)
    -- the error's first line: its position is in the policy (or a module
    -- beside it); the frames below are luasup's own
    local ok, why = xpcall(chunk, function(e)
        if e == DECLARED then return e end
        return (task.traceback(e):match('^[^\n]*'))
    end, unpack(args, 1, args.n))
    sup_done(); init_done(); logs_done()
    if (not ok and why ~= DECLARED) or (ok and #declared.order == 0) then
        for _, l in ipairs(opened) do l:close() end
        return nil, ok and 'the policy declares no services' or tostring(why)
    end
    declared.opened = opened
    declared.same = { [sup] = live, [init_p] = init, [logs_p] = require('logs') }
    return declared
end

-- -- comparing ------------------------------------------------------------

-- Whether a and b are the same declaration: tables field by field,
-- functions by their code and their upvalues (so that a closure made again
-- by the new run is the same as before if nothing it sees has changed).
local function same(a, b, alias, seen, depth)
    if a == b or (alias[b] ~= nil and alias[b] == a) then
        return true
    end
    if type(a) ~= type(b) or depth > 20 then
        return false
    end
    local key = tostring(a) .. tostring(b)
    if seen[key] then
        return true
    end
    seen[key] = true
    if type(a) == 'table' then
        if getmetatable(a) ~= getmetatable(b) then
            return false
        end
        for k, v in pairs(a) do
            if not same(v, b[k], alias, seen, depth + 1) then return false end
        end
        for k in pairs(b) do
            if a[k] == nil then return false end
        end
        return true
    elseif type(a) == 'function' then
        local okA, codeA = pcall(string.dump, a, true)
        local okB, codeB = pcall(string.dump, b, true)
        if not (okA and okB) or codeA ~= codeB then
            return false
        end
        for i = 1, 255 do
            local na, va = debug.getupvalue(a, i)
            local nb, vb = debug.getupvalue(b, i)
            if na ~= nb then return false end
            if na == nil then return true end
            if not same(va, vb, alias, seen, depth + 1) then return false end
        end
        return true
    end
    return false
end

-- names in an order where each comes after what it depends on
local function topological(names, after_of)
    local out, done = {}, {}
    local wanted = {}
    for _, n in ipairs(names) do wanted[n] = true end
    local function visit(n)
        if done[n] then return end
        done[n] = true
        for _, dep in ipairs(after_of(n)) do
            if wanted[dep] then visit(dep) end
        end
        out[#out + 1] = n
    end
    for _, n in ipairs(names) do visit(n) end
    return out
end

-- The plan: {added, removed, changed, unchanged} (lists of names), or nil
-- and why the new policy cannot be applied.
function M.plan(hub, live, path, args)
    local declared, err = collect(path, args, live)
    if not declared then
        return nil, err
    end
    err = graph.error(declared.order, declared.services)
    if err then
        M.discard(declared)
        return nil, err
    end
    local plan = { added = {}, removed = {}, changed = {}, unchanged = {}, declared = declared }
    for _, name in ipairs(declared.order) do
        local svc = hub.services[name]
        if not svc then
            plan.added[#plan.added + 1] = name
        elseif same(svc.spec, declared.services[name], declared.same, {}, 0) then
            plan.unchanged[#plan.unchanged + 1] = name
        else
            plan.changed[#plan.changed + 1] = name
        end
    end
    for _, name in ipairs(hub.order) do
        if not declared.services[name] then
            plan.removed[#plan.removed + 1] = name
        end
    end
    return plan
end

-- A plan not applied leaves no socket of its own open.
function M.discard(declared)
    for _, l in ipairs(declared.opened) do l:close() end
end

-- With dependents: what depends on a changed service, directly or not,
-- restarts with it.
function M.add_dependents(plan)
    local declared, changed = plan.declared, {}
    for _, n in ipairs(plan.changed) do changed[n] = true end
    local grew = true
    while grew do
        grew = false
        for _, name in ipairs(plan.unchanged) do
            if not changed[name] then
                for _, dep in ipairs(declared.services[name].after) do
                    if changed[dep] then
                        changed[name], grew = true, true
                        plan.changed[#plan.changed + 1] = name
                        break
                    end
                end
            end
        end
    end
    local still = {}
    for _, name in ipairs(plan.unchanged) do
        if not changed[name] then still[#still + 1] = name end
    end
    plan.unchanged = still
end

-- Bring the services in line with the plan; `ops` are the library's own
-- steps (declare, stop, start, forget). A changed service starts again
-- unless it was stopped (on request, or never started).
function M.apply(hub, plan, ops)
    local declared = plan.declared
    local was_stopped = {}
    for _, n in ipairs(plan.changed) do was_stopped[n] = hub.services[n].state == 'stopped' end
    -- what goes away or changes stops first, dependents before what they need
    local going = {}
    for _, n in ipairs(plan.removed) do going[#going + 1] = n end
    for _, n in ipairs(plan.changed) do going[#going + 1] = n end
    local order = topological(going, function(n) return hub.services[n].spec.after end)
    for i = #order, 1, -1 do
        ops.stop(hub.services[order[i]], 'reload')
    end
    for _, name in ipairs(plan.removed) do
        ops.forget(name)
    end
    for _, name in ipairs(plan.changed) do
        hub.services[name].spec = declared.services[name]
    end
    -- the new order of declaration, for list and the ordered stop
    local new_order = {}
    for i, name in ipairs(declared.order) do new_order[i] = name end
    for _, name in ipairs(topological(plan.added, function(n) return declared.services[n].after end)) do
        ops.declare(name, declared.services[name])
    end
    hub.order = new_order
    for _, name in ipairs(plan.changed) do
        if not was_stopped[name] then
            ops.start(hub.services[name])
        end
    end
    init.log('info', 'supervise: reloaded: %d added, %d changed, %d removed, %d unchanged',
        #plan.added, #plan.changed, #plan.removed, #plan.unchanged)
end

return M
