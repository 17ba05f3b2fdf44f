-- supervise: services over luasup's init primitives. Declare services and
-- oneshots, then sup.run(): restart policies with backoff and a crash-loop
-- limit, readiness and health probes, dependencies, critical services and a
-- stop in reverse dependency order. Reference: docs/services.md.
local init = require('init')
local task = require('luasup.task')
local args = require('luasup.args')
local core = require('luasup.core')
local spec = require('supervise.spec')
local probes = require('supervise.probes')
local runner = require('supervise.runner')
local process = require('luasup.process')
local latch = require('supervise.latch')
local control = require('supervise.control')
local reload = require('supervise.reload')
local graph = require('supervise.graph')

local M = {}

-- The library's state, shared with the runners.
local hub = {
    services = {}, -- name -> service
    order = {}, -- names, as declared
    running = false, -- sup.run() has started the services
    stopping_all = false, -- the ordered stop has begun
    code = 0, -- the exit code sup.run() returns
    finished = latch(),
    done = false,
}
local subscribers = {}

-- States in which a service has nothing more to do until someone starts it.
local SETTLED = { exited = true, done = true, failed = true, stopped = true }
-- Of those, the ones that end sup.run() once every service is in one: a
-- service stopped on request may be started again (sup.start).
local FINISHED = { exited = true, done = true, failed = true }

function hub.settled(svc)
    return SETTLED[svc.state] or false
end

local function status(svc)
    local last = svc.last_exit
    return {
        name = svc.name, kind = svc.spec.kind, state = svc.state, why = svc.why,
        since = svc.since, started = svc.pid and svc.started, pid = svc.pid, restarts = svc.restarts, critical = svc.spec.critical,
        healthy = svc.healthy, health_why = svc.health_why, after = { unpack(svc.spec.after) },
        last_exit = last and { code = last.code, how = last.how, value = last.value, text = last.text,
            runtime = last.runtime, time = last.time } or nil,
    }
end

local function emit(event)
    for _, sub in ipairs(subscribers) do
        sub.queue[#sub.queue + 1] = event
        sub.wake:fire()
    end
end

-- A service that waits for a dependency which has settled without being
-- ready (and will not start again by itself) can never start.
local function blocked(svc, seen)
    if svc.state ~= 'waiting' or not hub.running then
        return false
    end
    seen = seen or {}
    if seen[svc] then
        return false
    end
    seen[svc] = true
    for _, name in ipairs(svc.spec.after) do
        local d = hub.services[name]
        if not runner.satisfied(d) and (SETTLED[d.state] or blocked(d, seen)) then
            return true
        end
    end
    return false
end
hub.blocked = blocked

-- When no service has anything left to do, sup.run() ends: exit code 0, or
-- the code of the first service that failed.
function hub.check_settled()
    if not hub.running or hub.stopping_all then
        return
    end
    local code = 0
    for _, name in ipairs(hub.order) do
        local svc = hub.services[name]
        if not (FINISHED[svc.state] or blocked(svc)) then
            return
        end
        if svc.state == 'failed' and code == 0 then
            code = svc.fail_code or 1
        end
    end
    hub.shutdown(code, 'no service left to run')
end

-- A state change: one log line, an event for sup.on('state'), and a wake-up
-- for whoever waits on this service. `line` follows the state in the log.
function hub.set(svc, state, why, line)
    svc.why = why
    -- the same state again is news only for a new attempt: each restart's
    -- backoff, a start's pid after its pre_start hook
    if svc.state == state and (state ~= 'backoff' and state ~= 'starting' or line == svc.line) then
        return
    end
    svc.line = line
    local previous = svc.state
    svc.state, svc.since = state, init.now()
    if state == 'failed' then
        init.log('warn', 'service %s: %s%s', svc.name, state, line or '')
    else
        init.log('info', 'service %s: %s%s', svc.name, state, line and ' ' .. line or '')
    end
    svc.changed:fire()
    local event = { service = svc.name, state = state, previous = previous, why = why, pid = svc.pid,
        time = svc.since }
    emit(event)
    control.event(event)
end

local function dependents_of(name)
    local out = {}
    for _, other in ipairs(hub.order) do
        for _, dep in ipairs(hub.services[other].spec.after) do
            if dep == name then
                out[#out + 1] = other
            end
        end
    end
    return out
end

-- How many services stop one after the other from `name` on, itself
-- included: the longest chain of its dependencies.
local function chain(name, seen)
    seen = seen or {}
    if seen[name] then -- a cycle is refused before run; this only guards
        return 1
    end
    seen[name] = true
    local longest = 0
    for _, dep in ipairs(hub.services[name].spec.after) do
        if hub.services[dep] then
            longest = math.max(longest, chain(dep, seen))
        end
    end
    seen[name] = nil
    return 1 + longest
end

-- The ordered stop: each service stops once every service that depends on
-- it has stopped, independent ones in parallel, all within the grace period;
-- then sup.run() returns `code`.
function hub.shutdown(code, why)
    if hub.stopping_all then
        return
    end
    hub.stopping_all, hub.code = true, code
    if hub.checking then -- a re-exec's check of the new luasup: moot now
        hub.checking:kill()
    end
    init.spawn(function()
        init.log('info', 'supervise: stopping all services (%s)', why)
        local deadline = init.now() + init.shutdown_grace()
        local stoppers = {}
        local order = { unpack(hub.order) } -- as it is now: sup.remove may change hub.order meanwhile
        for _, name in ipairs(order) do
            stoppers[name] = init.spawn(function()
                for _, dependent in ipairs(dependents_of(name)) do
                    if stoppers[dependent] then
                        init.wait_any(stoppers[dependent])
                    end
                end
                -- a share of what is left, so that the services stopping
                -- after this one still get theirs
                local now = init.now()
                local svc = hub.services[name]
                if svc then
                    runner.stop(hub, svc, 'shutdown', now + (deadline - now) / chain(name))
                end
            end)
        end
        for _, name in ipairs(order) do
            init.wait_any(stoppers[name])
        end
        init.shutdown_grace(math.max(0, deadline - init.now())) -- what is left for luasup's own stop
        hub.done = true
        hub.finished:fire()
    end)
end

-- A second stop signal during the ordered stop: no more waiting, SIGKILL to
-- every service's process group (the ordered stop then finds them gone).
function hub.force(signame)
    init.log('warn', 'supervise: received %s again: sending SIGKILL to every service', signame)
    for _, name in ipairs(hub.order) do
        local svc = hub.services[name]
        if svc.pid then
            init.kill(-svc.pid, 9)
        end
        if svc.hook and svc.hook.box.child then svc.hook.box.child:kill() end
        if svc.probe.child then svc.probe.child:kill() end
        if svc.stop_deadline then
            svc.stop_deadline = init.now() -- waits for hooks end now
        end
    end
end

-- A checked declaration joins the services (and starts, once they run).
local function add(name, s)
    local svc = { name = name, spec = s, state = 'stopped', why = 'not started yet', since = init.now(),
        restarts = 0, attempts = 0, exits = {}, attempt = 0, changed = latch(), output_latch = latch(), probe = {}, watches = {},
        demand = latch() }
    hub.services[name] = svc
    hub.order[#hub.order + 1] = name
    if hub.running and not hub.stopping_all and s.autostart then
        runner.start(hub, svc)
    end
end

-- A stopped service leaves: its proxies stop accepting (sup.remove, reload).
local function forget(name)
    for _, p in ipairs(hub.services[name].proxies or {}) do p:close() end
    hub.services[name] = nil
end

local function declare(fname, kind, name, options)
    local s = spec.check(fname, kind, name, options)
    if hub.stopping_all then
        task.raise(fname .. ': the services are being stopped')
    end
    if hub.services[name] then
        args.argerror(1, fname, ("a service named '%s' is already declared"):format(name))
    end
    for _, dep in ipairs(s.after) do
        if hub.running and not hub.services[dep] then
            args.argerror(2, fname, ("option 'after': no service '%s'"):format(dep))
        end
    end
    add(name, s)
    return name
end

--- sup.service(name, spec): declare a long-running service
function M.service(name, options)
    return declare('service', 'service', name, options)
end

--- sup.oneshot(name, spec): declare a command that runs once to completion
function M.oneshot(name, options)
    return declare('oneshot', 'oneshot', name, options)
end

--- sup.run() -> the exit code: starts every service and returns once all
-- have stopped (a stop signal, a critical service, nothing left to run)
function M.run()
    if hub.running then
        task.raise('run: the services are already running')
    end
    local specs = {}
    for name, svc in pairs(hub.services) do specs[name] = svc.spec end
    local err = graph.error(hub.order, specs)
    if err then
        init.log('error', 'supervise: %s', err)
        init.exit(2)
    end
    hub.running = true
    local carried = core.carried_services()
    control.serve(hub, M)
    for _, sig in ipairs({ 'TERM', 'INT' }) do
        init.on(sig, function(signame)
            if hub.stopping_all then
                hub.force(signame)
            else
                hub.shutdown(128 + init.signal[signame], 'received ' .. signame)
            end
        end)
    end
    local handed, adopted = {}, 0
    for _, c in ipairs(carried or {}) do handed[c.name] = c end
    for _, name in ipairs(hub.order) do
        local svc = hub.services[name]
        if handed[name] then
            runner.adopt(hub, svc, handed[name])
            handed[name] = nil
            adopted = adopted + 1
        elseif svc.spec.autostart then
            runner.start(hub, svc)
        else
            svc.why = 'not started (autostart = false): sup.start starts it'
        end
    end
    if carried then
        for name, c in pairs(handed) do
            local child = c.pid and process.adopt(c.pid, name, {})
            if child then
                init.log('warn', 'supervise: re-exec: service %s is no longer declared: stopping its process (pid %d)',
                    name, c.pid)
                child:signal(15)
                init.spawn(function()
                    if not child:wait(init.shutdown_grace()) then child:kill() end
                end)
            end
        end
        core.adoption_done()
        init.log('info', 'supervise: re-exec: took over %d %s', adopted, adopted == 1 and 'service' or 'services')
    end
    hub.check_settled()
    while not hub.done do
        hub.finished:wait()
    end
    return hub.code
end

--- sup.shutdown([code]): stop every service in order; sup.run() then
-- returns `code` (default 0)
function M.shutdown(code)
    hub.shutdown(code or 0, 'requested')
end

local function find(fname, name)
    if type(name) ~= 'string' then
        task.raise(("bad argument #1 to '%s' (string expected, got %s)"):format(fname, type(name)))
    end
    local svc = hub.services[name]
    if not svc then
        return nil, ("no service '%s'"):format(tostring(name))
    end
    return svc
end

--- sup.start(name) -> true, or nil and why: start a stopped, exited or
-- failed service (its crash-loop window and backoff sequence start afresh);
-- its state changes once the start has begun, when the caller next waits
function M.start(name)
    local svc, err = find('start', name)
    if not svc then
        return nil, err
    elseif hub.stopping_all then
        return nil, 'shutting down'
    elseif not hub.running then
        return nil, 'the services are not running yet (sup.run)'
    end
    runner.join_stop(svc) -- a start right after a stop begins once it has ended
    if hub.stopping_all then
        return nil, 'shutting down'
    elseif hub.services[name] ~= svc then
        return nil, ("no service '%s'"):format(name)
    elseif svc.runner and (svc.state == 'idle' or svc.state == 'backoff') then
        svc.demand:fire() -- an on-demand service's demand, or the end of a backoff
        return true
    elseif svc.runner then
        return nil, 'already started'
    end
    runner.start(hub, svc)
    return true
end

--- sup.stop(name) -> true, or nil and why: stop a service (no restart);
-- waits until its process group is gone
function M.stop(name)
    local svc, err = find('stop', name)
    if not svc then
        return nil, err
    elseif not hub.running then
        return nil, 'the services are not running yet (sup.run)'
    end
    runner.stop(hub, svc, 'stop requested', math.huge)
    return true
end

--- sup.restart(name) -> true, or nil and why
function M.restart(name)
    local svc, err = find('restart', name)
    if not svc then
        return nil, err
    end
    local ok
    ok, err = M.stop(name)
    if not ok then
        return nil, err
    end
    return M.start(name)
end

--- sup.signal(name, sig) -> true, or nil and why: a signal to the
-- service's process group
function M.signal(name, sig)
    local svc, err = find('signal', name)
    local signo = args.signal(2, 'signal', sig)
    if not svc then
        return nil, err
    elseif not svc.child then
        return nil, 'not running'
    end
    return svc.child:signal(signo)
end

--- sup.status(name) -> a table (name, kind, state, why, since, pid,
-- restarts, last_exit, ...), or nil and why
function M.status(name)
    local svc, err = find('status', name)
    if not svc then
        return nil, err
    end
    return status(svc)
end

--- sup.list() -> the status of every service, in the order declared
function M.list()
    local out = {}
    for i, name in ipairs(hub.order) do
        out[i] = status(hub.services[name])
    end
    return out
end

--- sup.remove(name) -> true, or nil and why: stop a service and forget it
function M.remove(name)
    local svc, err = find('remove', name)
    if not svc then
        return nil, err
    end
    local dependents = dependents_of(name)
    if #dependents > 0 then
        return nil, ('%s depends on it'):format(table.concat(dependents, ', '))
    end
    runner.stop(hub, svc, 'removed', math.huge)
    forget(name)
    for i, other in ipairs(hub.order) do
        if other == name then
            table.remove(hub.order, i)
            break
        end
    end
    hub.check_settled()
    return true
end

local reloading = false

-- The policy file run again in an environment of its own and compared
-- with what runs (supervise/reload.lua): the plan, or nil and why not.
local function plan_again()
    reloading = true
    local ok, plan, err = pcall(reload.plan, hub, M, arg[0], { n = #arg, unpack(arg, 1, #arg) })
    reloading = false
    if not ok or not plan then
        return nil, tostring(ok and err or plan)
    end
    return plan
end

--- sup.reload{dry_run = false, dependents = false} -> the plan, or nil and
-- why: run the policy file again and start what it adds, stop what it no
-- longer declares, restart what it changes (and, with dependents, what
-- depends on those); the rest runs on untouched (docs/live.md)
function M.reload(opts)
    opts = opts or {}
    args.check(1, 'reload', opts, 'table')
    args.options(1, 'reload', opts, { dry_run = 'boolean', dependents = 'boolean' })
    local function refused(why)
        init.log('error', 'supervise: reload failed, nothing changed: %s', why)
        return nil, why
    end
    if not hub.running then
        return refused('the services are not running yet (sup.run)')
    elseif hub.stopping_all then
        return refused('shutting down')
    elseif reloading then
        return refused('a reload is under way')
    elseif not core.script_file then
        return refused('the policy is inline code, not a file: only a file can be read again')
    end
    local plan, err = plan_again()
    if not plan then
        return refused(err)
    end
    if opts.dependents then
        reload.add_dependents(plan)
    end
    local ok = true
    reloading = true
    if opts.dry_run then
        reload.discard(plan.declared)
    else
        ok, err = pcall(reload.apply, hub, plan, {
            declare = add,
            stop = function(svc, why) runner.stop(hub, svc, why, math.huge) end,
            start = function(svc) runner.start(hub, svc) end,
            forget = forget,
        })
    end
    reloading = false
    if not ok then
        error(err, 0)
    end
    hub.check_settled()
    return { added = plan.added, removed = plan.removed, changed = plan.changed, unchanged = plan.unchanged }
end

-- The services' state for a re-exec, or nil and why it cannot be carried
-- now (a service between two states). Called by the core at the moment of
-- the exec: nothing runs between this and the exec.
local function snapshot()
    if hub.stopping_all then
        return nil, 'shutting down'
    elseif reloading then
        return nil, 'a reload is under way'
    end
    local out = {}
    for i, name in ipairs(hub.order) do
        local svc = hub.services[name]
        if svc.stop_task or svc.state == 'stopping' then
            return nil, ('service %s is stopping'):format(name)
        elseif svc.hook then
            return nil, ('service %s is running its %s hook'):format(name, svc.hook.which)
        elseif svc.state == 'starting' and svc.spec.kind == 'service' then
            return nil, ('service %s is starting (not ready yet)'):format(name)
        end
        out[i] = { name = name, state = svc.state, why = svc.why, line = svc.line, since = svc.since,
            restarts = svc.restarts, attempts = svc.attempts, attempt = svc.attempt, exits = svc.exits,
            last_exit = svc.last_exit, fail_code = svc.fail_code, pid = svc.pid, started = svc.started,
            healthy = svc.healthy, health_why = svc.health_why, health_failures = svc.health_failures,
            health_next = svc.health_next, quiet_since = svc.quiet_since,
            probe_pid = svc.probe.child and svc.probe.child:running() and svc.probe.child:pid() or nil,
            backoff_until = svc.backoff_until,
            runner = svc.runner ~= nil }
    end
    return out
end

local function refused(why)
    init.log('error', 'supervise: re-exec refused, nothing changed: %s', why)
    return nil, why
end

-- Whether the luasup installed now starts, imports and compiles the policy,
-- and takes this one's hand-over: true and its version, or nil and why not.
local CHECK_TIMEOUT = 30 -- seconds the new luasup's check may take

local function check_new()
    local argv = core.reexec_command()
    argv[#argv + 1], argv[#argv + 2] = '--check', arg[0]
    argv.env = { LUASUP_HANDOVER_CHECK = tostring(core.handover_format) }
    argv.stdout, argv.stderr = 'capture', 'capture'
    local ok, child = pcall(init.exec, argv)
    if not ok then
        return nil, 'the new luasup does not start: ' .. tostring(child)
    end
    hub.checking = child
    local code = child:code(CHECK_TIMEOUT)
    hub.checking = nil
    if not code then
        child:kill()
        return nil, ('the new luasup\'s check (%s) did not end within %d s'):format(
            table.concat(argv, ' '), CHECK_TIMEOUT)
    elseif hub.stopping_all then
        return nil, 'shutting down'
    end
    local out, err = child:stdout() or '', child:stderr() or ''
    local version = out:match('^luasup (%S+): hand%-over format')
    if code ~= 0 or not version then
        local why
        if code == 0 then -- a luasup older than re-exec: its --check passes, and that is all
            why = 'it did not answer which hand-over format it takes'
        else -- a broken install dies in a Python traceback: what went wrong is its last line
            why = (err:match('^Traceback') and err:match('([^\n]+)\n*$')) or err:match('[^\n]+')
                or out:match('[^\n]+') or ('exit code ' .. code)
            why = why:match('^luasup: %a+: (.*)') or why:match('^luasup: (.*)') or why
        end
        return nil, ('the new luasup failed its check (%s): %s'):format(table.concat(argv, ' '), why)
    end
    return true, version
end

-- A re-exec, before its hand-over: true and the new luasup's version, or
-- nil and why it cannot be done now (refusals are logged).
local function ready()
    if not hub.running then
        return refused('the services are not running yet (sup.run)')
    elseif not core.script_file then
        return refused('the policy is inline code, not a file: the new luasup must read it again')
    end
    local fine, why = snapshot()
    if not fine then
        return refused(why)
    end
    -- the new luasup runs the policy file again: it must run, and declare
    -- what runs (a changed declaration is for a reload to apply)
    local plan, err = plan_again()
    if not plan then
        return refused('the policy fails: ' .. err)
    end
    reload.discard(plan.declared)
    local changes = {}
    for _, key in ipairs({ 'added', 'removed', 'changed' }) do
        if #plan[key] > 0 then
            changes[#changes + 1] = ('%s %s'):format(key, table.concat(plan[key], ', '))
        end
    end
    if #changes > 0 then
        return refused(('the policy file has changed since it was applied (%s): apply it first'
            .. ' with luasup ctl reload'):format(table.concat(changes, '; ')))
    end
    fine, why = check_new()
    if not fine then
        return refused(why)
    end
    return true, why
end

local reexecing = false -- from a re-exec's checks to the end of its hand-over

function hub.reexec_ready()
    if reexecing or core.reexec_busy() then
        return refused('a re-exec is under way')
    end
    reexecing = true
    local ok, fine, why = pcall(ready)
    reexecing = ok and fine or false
    if not ok then
        error(fine, 0)
    end
    return fine, why
end

-- The hand-over, after reexec_ready: returns only when it did not happen,
-- with nil and why.
function hub.reexec_now()
    local _, why = task.await('reexec', 'reexec', snapshot)
    reexecing = false
    return refused(why)
end

--- sup.reexec() -> nil and why; on success it does not return: luasup
-- is replaced by the luasup installed now, which keeps every child and the
-- services' state (docs/live.md). The new luasup is checked first.
function M.reexec()
    local ok, why = hub.reexec_ready()
    if not ok then
        return nil, why
    end
    return hub.reexec_now()
end

--- sup.reload_on{signal = 'HUP', watch = true, debounce = 0.5}: reload on
-- a signal, and/or when the policy file changes
function M.reload_on(opts)
    args.check(1, 'reload_on', opts, 'table')
    args.options(1, 'reload_on', opts, { signal = 'string|number', watch = 'boolean', debounce = 'number' })
    if not core.script_file then
        task.raise('reload_on: the policy is inline code, not a file: only a file can be read again')
    end
    local function again()
        M.reload()
    end
    if opts.signal then
        init.on(opts.signal, function() init.spawn(again) end)
    end
    if opts.watch then
        local watcher, err = init.watch(arg[0], again, { debounce = opts.debounce or 0.5 })
        if not watcher then
            task.raise('reload_on: ' .. tostring(err))
        end
    end
    return true
end

--- sup.on('state', fn): fn(event) after each state change, in order, in a
-- task of its own; event = {service, state, previous, why, pid, time}
function M.on(what, fn)
    if what ~= 'state' then
        task.raise(("bad argument #1 to 'on' ('state' expected, got %s)"):format(tostring(what)))
    elseif type(fn) ~= 'function' then
        task.raise(("bad argument #2 to 'on' (function expected, got %s)"):format(type(fn)))
    end
    local sub = { queue = {}, wake = latch() }
    subscribers[#subscribers + 1] = sub
    init.spawn(function()
        while true do
            local event = table.remove(sub.queue, 1)
            if event then
                local ok, err = xpcall(fn, task.traceback, event)
                if not ok then
                    init.log('error', 'supervise: error in a state handler: %s', err)
                end
            else
                sub.wake:wait()
            end
        end
    end)
    return true
end

--- sup.control{path=, allow=, eval=, logs=, metrics=} | sup.control(false):
-- the control socket sup.run() serves (docs/ctl.md)
M.control = control.configure

-- true only in the environment of a reload (supervise/reload.lua)
M.reloading = false

M.http, M.tcp, M.command = probes.http, probes.tcp, probes.command
M.notify, M.output, M.delay = probes.notify, probes.output, probes.delay

return task.guard_all(M)
