-- One service's life: wait for its dependencies, start it, wait until it is
-- ready, watch its health, and when it exits decide between a restart after
-- a backoff, giving up, or being done. `hub` is the library's shared state
-- (supervise.lua): the services by name, `set` for state changes, and
-- `shutdown` for critical failures.
local init = require('init')
local core = require('luasup.core')
local probes = require('supervise.probes')
local process = require('luasup.process')
local logs = require('logs')

local M = {}

-- A service that dies within this many seconds of its start is restarted no
-- sooner than this after that start, whatever its backoff says (s6's rule):
-- a crash loop never spins the CPU.
local MIN_INTERVAL = 1
local POLL = 0.02 -- seconds between checks that a stopped service's process group is gone

local SIGNAL_NAMES = {}
for name, num in pairs(init.signal) do
    local old = SIGNAL_NAMES[num]
    if not (name == 'SIGIOT' or name == 'SIGCLD' or name == 'SIGPOLL' or name:find('RTMAX.'))
        and (not old or #name < #old) then
        SIGNAL_NAMES[num] = name
    end
end

-- Durations in log lines: 0.25 s, 4 s, 1234 s (not 1.23e+03).
local function seconds(d)
    return d >= 100 and ('%d'):format(math.floor(d + 0.5)) or ('%.3g'):format(d)
end

local function times(n, one, many)
    return ('%d %s'):format(n, n == 1 and one or many)
end

-- What an exit was: {how = 'exit' | 'signal' | 'start', code = shell code,
-- value = code or signal number, text = 'exit code 3', runtime = seconds}.
local function exit_of(how, value, runtime)
    if how == 'exit' then
        return { how = how, value = value, code = value, text = 'exit code ' .. value, runtime = runtime }
    end
    return { how = how, value = value, code = 128 + value,
        text = 'signal ' .. (SIGNAL_NAMES[value] or tostring(value)), runtime = runtime }
end

-- A service's stop timeout: its own, or the grace period in force.
local function stop_timeout(s)
    return s.stop.timeout or init.shutdown_grace()
end

-- Whether any process of group `pgid` is left.
local function group_alive(pgid)
    return init.kill(-pgid, 0) == 0
end

-- Wait until group `pgid` is gone, until `give_up` (init.now() time), then
-- SIGKILL it and wait a second more at most for the kernel to finish it.
local function reap_group(svc, pgid, give_up, started, signame)
    while group_alive(pgid) do
        if init.now() >= give_up then
            init.log('warn', 'service %s: processes of its group still running %d ms after %s: sending SIGKILL',
                svc.name, (init.now() - started) * 1000, signame)
            init.kill(-pgid, 9)
            local last = init.now() + 1
            while group_alive(pgid) and init.now() < last do
                init.sleep(POLL)
            end
            return
        end
        init.sleep(POLL)
    end
end

-- Wait for `thing` (a child or a task) until `give_up` (init.now() time)
-- or svc.stop_deadline, whichever comes first: thing once it has finished,
-- or nil. In slices, as a stricter stop may bring the deadline forward.
local function wait_before(thing, svc, give_up)
    while true do
        local left = math.min(give_up, svc.stop_deadline or math.huge) - init.now()
        if init.wait_any(thing, math.max(0, math.min(left, 0.25))) then
            return thing
        elseif left <= 0 then
            return nil
        end
    end
end

-- Stop `child` (the service's current process): its stop signal to its
-- group, then SIGKILL after `timeout` (or at svc.stop_deadline if that comes
-- first); returns once the whole group is gone.
function M.stop_child(hub, svc, child, why, timeout)
    local pid, s = child:pid(), svc.spec
    local started = init.now()
    local signame = SIGNAL_NAMES[s.stop.signal] or tostring(s.stop.signal)
    if child:running() then
        hub.set(svc, 'stopping', why, ('(pid %d): %s'):format(pid, why))
        child:signal(s.stop.signal)
        if s.stop.signal ~= 18 and s.stop.signal ~= 9 then
            init.kill(-pid, 18) -- a stopped (SIGSTOP) service can then handle its stop signal
        end
        if not wait_before(child, svc, started + timeout) then
            init.log('warn', 'service %s: still running %d ms after %s: sending SIGKILL', svc.name,
                (init.now() - started) * 1000, signame)
            child:kill()
            child:wait()
        end
    elseif group_alive(pid) then
        init.log('warn', 'service %s: its exit left processes in its group: sending %s', svc.name, signame)
        init.kill(-pid, s.stop.signal)
    end
    reap_group(svc, pid, math.min(started + timeout, svc.stop_deadline or math.huge), started, signame)
end

-- A hook (a function, or a command table) bounded by the hook timeout and
-- by a stop's deadline: true, or nil and why it failed.
function M.hook(hub, svc, which, info)
    local hook, box = svc.spec[which], {}
    local started = init.now()
    local t
    if type(hook) == 'function' then
        t = init.spawn(hook, info)
    else
        t = init.spawn(function()
            local opts, env = {}, {}
            for k, v in pairs(hook) do opts[k] = v end
            for k, v in pairs(hook.env or {}) do env[k] = v end
            env.LUASUP_SERVICE, env.LUASUP_RESTARTS = svc.name, svc.restarts
            if info and info.how then
                env.LUASUP_EXIT_CODE, env.LUASUP_EXIT_TEXT = info.code, info.text
                env.LUASUP_RUNTIME = ('%.3f'):format(info.runtime)
            end
            opts.env = env
            M.inherit_output(opts, svc.name) -- its output in the log, as the service's
            local child, err = probes.exec(opts)
            if not child then
                return false, err
            end
            box.child = child
            local code = child:code()
            if code ~= 0 then
                return false, ('%s exited %d'):format(tostring(hook[1]), code)
            end
            return true
        end)
    end
    svc.hook = { task = t, box = box, which = which }
    local finished = wait_before(t, svc, started + svc.spec.hook_timeout)
    svc.hook = nil
    if not finished then
        t:cancel()
        if box.child then box.child:kill() end
        -- the time it had: its timeout, or less when a stop's deadline cut it short
        local had = seconds(math.max(0, math.min(svc.spec.hook_timeout,
            (svc.stop_deadline or math.huge) - started)))
        init.log('warn', 'service %s: %s hook still running after %s s: stopped', svc.name, which, had)
        return nil, ('%s hook timed out after %s s'):format(which, had)
    end
    local ok, result, why = pcall(t.wait, t)
    if not ok then
        init.log('error', 'service %s: %s hook failed: %s', svc.name, which, tostring(result))
        return nil, which .. ' hook failed'
    elseif result == false then
        why = tostring(why or 'returned false')
        init.log('warn', 'service %s: %s hook failed: %s', svc.name, which, why)
        return nil, ('%s hook failed: %s'):format(which, why)
    end
    return true
end

-- A service's (or a hook's) output goes where luasup's goes unless it says
-- otherwise, each stream on its own: like a program run directly, not
-- init.exec's default of capturing it. Once the policy has declared log
-- sinks or routes, it goes to the log bus under the service's name.
function M.inherit_output(opts, name)
    if opts.prefix == nil then
        local default = logs.active() and 'log' or 'inherit'
        opts.stdout = opts.stdout or default
        opts.stderr = opts.stderr or default
    end
    opts.log_name = opts.log_name or name
end

-- init.exec's options for one start: the service's own, with its output
-- watched for an output readiness probe.
local function exec_options(svc)
    local s = svc.spec
    local opts = {}
    for k, v in pairs(s.exec) do opts[k] = v end
    for i, v in ipairs(s.cmd) do opts[i] = v end
    M.inherit_output(opts, svc.name)
    local r = s.ready
    if r and r.probe.kind == 'output' then
        for _, stream in ipairs(r.probe.stream and { r.probe.stream } or { 'stdout', 'stderr' }) do
            local given, forward = opts[stream], nil
            local write = stream == 'stdout' and core.print or core.print_err
            local pattern = r.probe.pattern
            if given == 'log' then -- the bus watches it, with no Lua call per line
                local w = logs.watch(opts.log_name, pattern, stream)
                svc.watches[#svc.watches + 1] = w
                init.spawn(function()
                    if w:wait() then
                        svc.output_matched = true
                        svc.output_latch:fire()
                    end
                end)
            else
                if type(given) == 'function' then
                    forward = given
                elseif given == 'inherit' or (given == nil and opts.prefix == nil) then
                    forward = function(line, continues) write(continues and line or line .. '\n') end
                elseif given == nil then
                    local prefix = opts.prefix
                    forward = function(line) write(prefix .. line .. '\n') end
                end
                opts[stream] = function(line, continues)
                    if not svc.output_matched and line:find(pattern) then
                        svc.output_matched = true
                        svc.output_latch:fire()
                    end
                    if forward then forward(line, continues) end
                end
            end
        end
    end
    return opts
end

-- An output readiness probe's watches on the log bus, once it is decided.
local function stop_watches(svc)
    for _, w in ipairs(svc.watches) do
        w:cancel()
    end
    svc.watches = {}
end

local function cancel(t)
    if t then t:cancel() end
end

-- The readiness or health task and the check it has in flight.
local function stop_probes(svc)
    cancel(svc.ready_task)
    cancel(svc.health_task)
    cancel(svc.idle_task)
    svc.ready_task, svc.health_task, svc.idle_task = nil, nil, nil
    probes.abort(svc.probe)
end

-- Wait until `child` is ready: true and how, or nil and 'exited' / 'timeout'.
local function await_ready(svc, child)
    local r = svc.spec.ready
    if not r then
        return true, 'started'
    elseif r.probe.kind == 'notify' then
        local ok, why = child:ready(r.deadline)
        return ok, ok and 'READY=1' or why
    end
    svc.ready_task = init.spawn(function()
        if r.probe.kind == 'output' then
            while not svc.output_matched do
                svc.output_latch:wait()
            end
            return r.probe.text
        end
        if r.first then init.sleep(r.first) end
        while true do
            local ok, why = probes.run(r.probe, child, r.timeout, svc.probe)
            if ok then
                return why
            end
            why = tostring(why)
            if why ~= svc.not_ready then -- each new reason once, not each probe
                init.log('info', 'service %s: not ready yet: %s', svc.name, why)
            end
            svc.not_ready, svc.why = why, 'not ready: ' .. why
            init.sleep(r.every)
        end
    end)
    local t = svc.ready_task
    svc.not_ready = nil
    local first = init.wait_any(t, child, r.deadline)
    if first == t then
        svc.ready_task = nil
        local ok, why = pcall(t.wait, t)
        return ok or nil, ok and why or tostring(why)
    end
    stop_probes(svc)
    return nil, first == child and 'exited' or 'timeout'
end

-- Health probes, from readiness on: returns why once `failures` checks in
-- a row have failed. `resumed`: after a re-exec, which carried the count.
local function watch_health(hub, svc, child, resumed)
    local h = svc.spec.health
    -- svc.health_next: when the next check is due, which a re-exec carries
    if not (resumed and svc.health_next) then
        svc.health_next = init.now() + h.initial_delay
    end
    init.sleep(math.max(0, svc.health_next - init.now()))
    local failures, successes = resumed and svc.health_failures or 0, 0
    local tick = init.now()
    while true do
        local ok, why = probes.run(h.probe, child, h.timeout, svc.probe)
        if ok then
            successes = successes + 1
            if failures > 0 and successes >= h.successes then
                init.log('info', 'service %s: healthy again (%s)', svc.name, tostring(why))
                failures, svc.health_failures = 0, 0
            end
            if failures == 0 then svc.healthy, svc.health_why = true, nil end
        else
            successes, failures = 0, failures + 1
            svc.health_failures = failures
            svc.healthy = false
            svc.health_why = ('health check failed (%d of %d): %s'):format(failures, h.failures, tostring(why))
            init.log('warn', 'service %s: %s', svc.name, svc.health_why)
            if failures >= h.failures then
                return ('health check failed %s: %s'):format(times(failures, 'time', 'times'), tostring(why))
            end
        end
        local now = init.now()
        tick = math.max(tick + h.every, now)
        svc.health_next = tick
        init.sleep(tick - now)
    end
end

-- What an on-demand service waits on: its proxies (made at the first
-- wait, accepting from then on), or the listeners in its fds. Each has
-- :wait() and :connections().
local function doors_of(svc)
    local od = svc.spec.on_demand
    if not od.proxy then
        return svc.spec.exec.fds
    end
    if not svc.proxies then
        svc.proxies = {}
        for i, l in ipairs(od.listen) do
            svc.proxies[i] = assert(init.proxy(l, od.proxy))
        end
    end
    return svc.proxies
end

-- The proxies of a service let clients through while it is ready.
local function gates(svc, open)
    for _, p in ipairs(svc.proxies or {}) do
        if open then p:open() else p:shut() end
    end
end

-- Until a connection waits on one of the service's listeners, or a start
-- is asked for (sup.start, ctl start): the state is 'idle' meanwhile.
local function wait_for_demand(hub, svc)
    local od = svc.spec.on_demand
    local addresses = {}
    for i, l in ipairs(od.listen or svc.spec.exec.fds) do addresses[i] = l:address() end
    hub.set(svc, 'idle', 'on demand: starts on a connection to ' .. table.concat(addresses, ', '),
        'on ' .. table.concat(addresses, ', '))
    local waits = { svc.demand:task() }
    for _, door in ipairs(doors_of(svc)) do
        waits[#waits + 1] = init.spawn(function()
            local ok, err = pcall(door.wait, door)
            if not ok then -- a closed listener: only sup.start starts it now
                init.log('error', 'service %s: cannot wait for a client: %s', svc.name, tostring(err))
                init.sleep(1e9)
            end
        end)
    end
    init.wait_any(unpack(waits))
    for i = 2, #waits do cancel(waits[i]) end
end

-- Returns once the service has had no connection for its idle time.
-- `resumed`: after a re-exec, which carried when the quiet began.
local function watch_idle(svc, resumed)
    local idle = svc.spec.on_demand.idle
    local doors = doors_of(svc)
    if not (resumed and svc.quiet_since) then
        svc.quiet_since = init.now()
    end
    while true do
        local busy = 0
        for _, door in ipairs(doors) do busy = busy + door:connections() end
        local now = init.now()
        local quiet_since = svc.quiet_since
        if busy > 0 then
            svc.quiet_since, quiet_since = now, now
        elseif now - quiet_since >= idle then
            return
        end
        -- checked a few times per idle period, at most once a second
        local period = math.max(1, math.min(idle / 4, 5))
        init.sleep(math.min(period, math.max(0.001, quiet_since + idle - now)))
    end
end

-- Follow a started (or handed over) run to its end: its health, idle time
-- and run timeout; the exit (see exit_of), with `cause` set when luasup
-- ended the run.
local function follow_run(hub, svc, child, started, cause, resumed)
    local s = svc.spec
    local idled
    if child:running() then
        local waits = { child }
        if s.health then
            svc.health_task = init.spawn(watch_health, hub, svc, child, resumed)
            waits[2] = svc.health_task
        end
        if s.on_demand and s.on_demand.idle then
            svc.idle_task = init.spawn(watch_idle, svc, resumed)
            waits[#waits + 1] = svc.idle_task
        end
        if s.timeout then
            waits[#waits + 1] = math.max(0, s.timeout - (init.now() - started))
        end
        local idle_task = svc.idle_task
        local first = init.wait_any(unpack(waits))
        if first == idle_task and idle_task then
            cause, idled = ('idle for %g s'):format(s.on_demand.idle), true
        elseif first == nil then
            cause = ('timed out after %g s'):format(s.timeout)
        elseif first == svc.health_task then
            local ok, why = pcall(svc.health_task.wait, svc.health_task)
            cause = ok and why or 'health check error: ' .. tostring(why)
        end
        stop_probes(svc)
        gates(svc, false) -- clients wait for the next start, not for a process going away
        if cause then
            M.stop_child(hub, svc, child, cause, stop_timeout(s))
        end
    end
    local _, how, value = child:wait()
    gates(svc, false)
    if group_alive(svc.pid) then
        M.stop_child(hub, svc, child, 'left processes in its group', stop_timeout(s))
    end
    local e = exit_of(how, value, init.now() - started)
    e.cause = cause
    e.idle = idled
    svc.child, svc.pid, svc.healthy = nil, nil, nil
    return e
end

-- Start once and follow that run to its end: the exit (see exit_of), with
-- `cause` set when luasup ended the run (health, readiness, run timeout).
local function run_once(hub, svc)
    local s = svc.spec
    svc.attempts = svc.attempts + 1
    svc.restarts = svc.attempts - 1 -- every start after the first, a requested one too
    if s.pre_start then
        hub.set(svc, 'starting', 'running the pre_start hook', '(pre_start hook)')
        local ok, why = M.hook(hub, svc, 'pre_start', { service = svc.name, restarts = svc.restarts })
        if not ok then
            return { how = 'start', code = 1, value = 1, text = why, runtime = 0 }
        end
    end
    svc.output_matched = false
    stop_watches(svc)
    local child, why = probes.exec(exec_options(svc))
    if not child then
        local code = (why:find('Permission denied$') or why:find('Exec format error$')) and 126 or 127
        return { how = 'start', code = code, value = code, text = why, runtime = 0 }
    end
    local started = init.now()
    svc.child, svc.pid, svc.started, svc.healthy, svc.health_why = child, child:pid(), started, nil, nil
    svc.health_failures = 0
    hub.set(svc, 'starting', 'started', ('(pid %d)'):format(svc.pid))
    local cause
    if s.kind == 'service' then
        local ready, why = await_ready(svc, child)
        stop_watches(svc)
        if ready then
            svc.healthy = s.health == nil or nil
            hub.set(svc, 'running', 'ready: ' .. tostring(why), ('(pid %d)'):format(svc.pid))
            gates(svc, true)
        elseif why == 'timeout' then
            cause = ('not ready within %g s'):format(s.ready.deadline)
                .. (svc.not_ready and ': ' .. svc.not_ready or '')
            M.stop_child(hub, svc, child, cause, stop_timeout(s))
        elseif why ~= 'exited' then -- the readiness check itself failed
            cause = 'readiness check failed: ' .. tostring(why)
            init.log('error', 'service %s: %s', svc.name, cause)
            M.stop_child(hub, svc, child, cause, stop_timeout(s))
        end
    end
    return follow_run(hub, svc, child, started, cause)
end

-- An exit becomes the service's last_exit and goes to its post_exit hook
-- (bounded by the hook timeout, and by a stop's deadline when it stops).
local function record_exit(hub, svc, e, text)
    svc.last_exit = { code = e.code, how = e.how, value = e.value, text = text, runtime = e.runtime,
        time = init.now() }
    if svc.spec.post_exit then
        M.hook(hub, svc, 'post_exit', { service = svc.name, code = e.code, how = e.how,
            value = e.value, text = text, runtime = e.runtime, restarts = svc.restarts })
    end
end

-- The delay before restart number `attempt` of the sequence.
local function backoff(b, attempt)
    local delay = math.min(b.initial * b.factor ^ (attempt - 1), b.max)
    if b.jitter > 0 then
        delay = math.min(delay * (1 + b.jitter * (2 * math.random() - 1)), b.max)
    end
    return delay
end

-- What follows an exit: a restart (true, after the backoff), or an end state.
local function after_exit(hub, svc, e)
    local s = svc.spec
    local success = e.how == 'exit' and s.success[e.code] and not e.cause
    local text = e.cause or e.text
    -- what luasup exits with if this failure ends it: never 0 for a failure
    -- (a crash loop of clean exits), and 1 when luasup ended the run itself
    -- (its stop signal's 143 would read as a container that was stopped)
    svc.fail_code = (e.code == 0 or e.cause) and 1 or e.code
    record_exit(hub, svc, e, text)
    if e.idle and not hub.stopping_all then -- stopped for want of demand: idle again, no fault
        svc.attempts = svc.attempts - 1
        return true
    end
    if hub.stopping_all then -- nothing starts again once the ordered stop has begun
        hub.set(svc, 'stopped', 'shutdown', ('(%s)'):format(text))
        return false
    end
    local again = s.critical ~= 'exit' and (s.restart == 'always'
        or (s.restart == 'on-failure' and not success)) and not (s.kind == 'oneshot' and success)
    if not again then
        if success then
            hub.set(svc, s.kind == 'oneshot' and 'done' or 'exited', text, ('(%s)'):format(text))
        else
            hub.set(svc, 'failed', text, ': ' .. text)
        end
        if s.critical == 'exit' or (s.critical and not success) then
            hub.shutdown(success and e.code or svc.fail_code,
                ('service %s %s'):format(svc.name, success and 'exited' or 'failed'))
        end
        return false
    end
    local now = init.now()
    local exits = svc.exits -- exit times within the limit's window
    if s.limit then
        exits[#exits + 1] = now
        while exits[1] and exits[1] < now - s.limit.within do
            table.remove(exits, 1)
        end
        if #exits > s.limit.burst then
            local why = ('%s within %s s; last: %s'):format(times(#exits, 'exit', 'exits'),
                seconds(s.limit.within), text)
            hub.set(svc, 'failed', why, ': ' .. why)
            if s.critical then
                hub.shutdown(svc.fail_code, ('service %s failed'):format(svc.name))
            end
            return false
        end
    end
    if e.runtime >= s.backoff.reset_after then
        svc.attempt = 0
    end
    svc.attempt = svc.attempt + 1
    local delay = math.max(backoff(s.backoff, svc.attempt), MIN_INTERVAL - e.runtime)
    local count = s.limit and ('restart %d of %d within %s s'):format(#exits, s.limit.burst,
        seconds(s.limit.within)) or ('restart %d'):format(svc.restarts + 1)
    hub.set(svc, 'backoff', ('restart in %s s after %s'):format(seconds(delay), text),
        ('%s s after %s (%s)'):format(seconds(delay), text, count))
    svc.backoff_until = init.now() + delay -- a re-exec carries it
    init.wait_any(svc.demand:task(), delay) -- sup.start ends it early
    svc.backoff_until = nil
    return true
end

-- Whether service `d` lets its dependents start (an idle on-demand
-- service does: its sockets take connections, which start it).
function M.satisfied(d)
    if d.spec.kind == 'oneshot' then
        return d.state == 'done'
    end
    return d.state == 'running' or d.state == 'idle'
end

local function wait_for_dependencies(hub, svc)
    while true do
        local missing, latches = {}, {}
        for _, name in ipairs(svc.spec.after) do
            local d = hub.services[name]
            if not M.satisfied(d) then
                missing[#missing + 1] = name
                latches[#latches + 1] = d.changed:task()
            end
        end
        if #missing == 0 then
            return
        end
        local why = 'waiting for ' .. table.concat(missing, ', ')
        hub.set(svc, 'waiting', why, 'for ' .. table.concat(missing, ', '))
        init.wait_any(unpack(latches))
    end
end

-- `first`, if given, runs before the first start: whether to go on.
local function loop(hub, svc, first)
    local again = not first or first()
    while again do
        wait_for_dependencies(hub, svc)
        if svc.spec.on_demand and not hub.stopping_all then
            wait_for_demand(hub, svc)
        end
        if hub.stopping_all then
            return
        end
        again = after_exit(hub, svc, run_once(hub, svc))
    end
    svc.runner = nil
    hub.check_settled() -- after a critical service's shutdown, so that its reason is the one given
end

-- Start following `svc` in a task of its own (its runner).
function M.start(hub, svc)
    svc.exits, svc.attempt = {}, 0
    svc.runner = init.spawn(loop, hub, svc)
end

-- A service a re-exec handed over: `c` is its state in the luasup before
-- (supervise.lua's snapshot). Its counters and state carry on; a run under
-- way is followed to its end as if this luasup had started it (the health
-- checks begin again), and a backoff ends when it would have.
function M.adopt(hub, svc, c)
    svc.restarts, svc.attempts, svc.attempt, svc.exits = c.restarts, c.attempts, c.attempt, c.exits
    svc.last_exit, svc.fail_code = c.last_exit, c.fail_code
    svc.state, svc.why, svc.line, svc.since = c.state, c.why, c.line, c.since
    svc.healthy, svc.health_why, svc.health_failures = c.healthy, c.health_why, c.health_failures
    svc.health_next, svc.quiet_since = c.health_next, c.quiet_since
    if c.probe_pid then -- a check in flight at the exec: abandoned (the next one is due now)
        local probe = process.adopt(c.probe_pid, svc.name .. ' health check', {})
        if probe then probe:kill() end
    end
    if not c.runner then -- settled, or stopped: it waits for sup.start as it did
        return
    end
    svc.runner = init.spawn(loop, hub, svc, function()
        if c.backoff_until then
            init.wait_any(svc.demand:task(), math.max(0, c.backoff_until - init.now()))
            return true
        elseif not c.pid then -- waiting for its dependencies, or for a client
            return true
        end
        svc.output_matched = true
        local opts = exec_options(svc) -- its line callbacks (a readiness watch is not needed again)
        stop_watches(svc)
        local child = process.adopt(c.pid, svc.name, opts)
        if not child then
            init.log('error', 'service %s: its process (pid %d) was not handed over: starting it again',
                svc.name, c.pid)
            return true
        end
        svc.child, svc.pid, svc.started = child, c.pid, c.started
        if svc.spec.on_demand and svc.spec.on_demand.proxy then
            doors_of(svc)
            gates(svc, true)
        end
        return after_exit(hub, svc, follow_run(hub, svc, child, c.started, nil, true))
    end)
end

local function stop_now(hub, svc, why)
    cancel(svc.runner)
    svc.runner = nil
    gates(svc, false)
    stop_probes(svc)
    local hook = svc.hook
    if hook and hook.which == 'post_exit' then -- after a real exit: let it finish, in time
        wait_before(hook.task, svc, math.huge)
    end
    if svc.hook then
        cancel(svc.hook.task)
        if svc.hook.box.child then svc.hook.box.child:kill() end
        svc.hook = nil
    end
    local child = svc.child
    if child then
        local left = math.max(0, svc.stop_deadline - init.now())
        M.stop_child(hub, svc, child, why, math.min(stop_timeout(svc.spec), left))
        local _, how, value = child:wait()
        local e = exit_of(how, value, init.now() - svc.started)
        if svc.child == child then
            svc.child, svc.pid, svc.healthy = nil, nil, nil
        end
        record_exit(hub, svc, e, e.text)
        hub.set(svc, 'stopped', why, ('(%s)'):format(e.text))
    elseif hook and hook.which == 'post_exit' and svc.last_exit then
        hub.set(svc, 'stopped', why, ('(%s)'):format(svc.last_exit.text))
    elseif not hub.settled(svc) then -- a failed or finished service keeps its state
        hub.set(svc, 'stopped', why)
    end
end

-- Stop `svc` for good (no restart): its runner and probes end, its process
-- group gets its stop signal, SIGKILL after its stop timeout (at most until
-- `deadline`), and the post_exit hook runs. The stop runs in a task of its
-- own, so that a caller cancelled meanwhile cannot leave it half done; a
-- stop already under way is joined, and the stricter deadline holds.
function M.stop(hub, svc, why, deadline)
    if svc.stop_task then
        svc.stop_deadline = math.min(svc.stop_deadline, deadline)
    else
        svc.stop_deadline = deadline
        local t
        t = init.spawn(function()
            local ok, err = pcall(stop_now, hub, svc, why)
            if svc.stop_task == t then
                svc.stop_task, svc.stop_deadline = nil, nil
            end
            if not ok then
                error(err, 0)
            end
        end)
        svc.stop_task = t
    end
    init.wait_any(svc.stop_task)
end

-- Wait until a stop under way (if any) has ended.
function M.join_stop(svc)
    while svc.stop_task do
        init.wait_any(svc.stop_task)
    end
end

return M
