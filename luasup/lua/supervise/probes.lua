-- Probes for readiness and health. A probe is a table {kind, text, check}:
-- check(child, timeout) returns true (and a short text) when the service
-- passes, else nil and why not. Each check is bounded by `timeout`: the
-- runner also runs it in a task of its own and cancels it when it
-- overruns, so a custom probe that hangs cannot hold anything up.
local init = require('init')
local args = require('luasup.args')

local M = {}
local Probe = {}
Probe.__index = Probe
M.Probe = Probe

-- `bounded`: the check keeps to its timeout by itself, so it can run in
-- the prober's own task (a task and a timer less per check).
local function probe(kind, text, check, bounded)
    return setmetatable({ kind = kind, text = text, check = check, bounded = bounded }, Probe)
end

-- init.exec for a command whose failure to start is a failure of the world
-- (a missing program), not the script's: the child, or nil and the reason
-- without init's FILE:LINE in front.
function M.exec(opts)
    local ok, child = pcall(init.exec, opts)
    if ok then
        return child
    end
    return nil, (tostring(child):gsub('^[^\n]-:%d+: ', ''))
end

--- sup.http(url [, {headers = {...}}]): an HTTP GET answered 200-399
-- (Kubernetes' rule for httpGet probes)
function M.http(url, opts)
    args.check(1, 'http', url, 'string')
    if not url:find('^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]') then -- the rest is checked by init.http_get
        args.argerror(1, 'http', ("invalid url '%s': expected http://HOST[:PORT]/PATH or https://..."):format(url))
    end
    opts = opts or {}
    args.check(2, 'http', opts, 'table')
    args.options(2, 'http', opts, { headers = 'table' })
    return probe('http', url, function(_, timeout)
        local status, body = init.http_get(url, { timeout = timeout, headers = opts.headers })
        if not status then
            return nil, body
        elseif status >= 200 and status < 400 then
            return true, 'HTTP ' .. status
        end
        return nil, 'HTTP ' .. status
    end, true)
end

--- sup.tcp(host, port): a TCP connection is accepted
function M.tcp(host, port)
    args.check(1, 'tcp', host, 'string')
    if type(port) ~= 'number' and type(port) ~= 'string' then
        args.argerror(2, 'tcp', 'number or string expected, got ' .. type(port))
    end
    local n = tonumber(port)
    if not (n and n % 1 == 0 and n >= 1 and n <= 65535) then
        args.argerror(2, 'tcp', ("port number 1-65535 expected, got '%s'"):format(tostring(port)))
    end
    return probe('tcp', host .. ':' .. port, function(_, timeout)
        local ok, err = init.tcp_check(host, port, timeout)
        if ok then
            return true, 'port ' .. port .. ' open'
        end
        return nil, err
    end, true)
end

--- sup.command{cmd, ...}: a command exits 0 (killed at the probe's timeout)
function M.command(cmd, ...)
    if type(cmd) ~= 'table' and type(cmd) ~= 'string' then
        args.argerror(1, 'command', 'table or string expected, got ' .. type(cmd))
    end
    local argv = type(cmd) == 'table' and cmd or { cmd, ... }
    local text = type(argv[1]) == 'string' and argv[1] or '?'
    return probe('command', text, function(_, timeout, slot)
        local opts = {}
        for k, v in pairs(argv) do
            opts[k] = v
        end
        if opts.stdout == nil then opts.stdout = 'null' end
        if opts.stderr == nil then opts.stderr = 'null' end
        local child, err = M.exec(opts)
        if not child then
            return nil, err
        end
        slot.child = child -- killed if the check is aborted
        local done, how, value = child:wait(timeout)
        slot.child = nil
        if not done then
            child:kill()
            child:wait()
            return nil, ('%s timed out after %g s'):format(text, timeout)
        elseif how == 'exit' and value == 0 then
            return true, text .. ' exited 0'
        elseif how == 'exit' then
            return nil, ('%s exited %d'):format(text, value)
        end
        return nil, ('%s killed by signal %d'):format(text, value)
    end, true)
end

--- sup.notify(): the service reports READY=1 (sd_notify); readiness only
function M.notify()
    return probe('notify', 'READY=1')
end

--- sup.output(pattern [, stream]): a line of the service's output matches a
-- Lua pattern; stream 'stdout', 'stderr' or nil for either; readiness only
function M.output(pattern, stream)
    args.check(1, 'output', pattern, 'string')
    local valid, err = pcall(string.find, '', pattern)
    if not valid then
        args.argerror(1, 'output', 'bad pattern: ' .. tostring(err):gsub('^[^:]*:%d+: ', ''))
    end
    if stream ~= nil and stream ~= 'stdout' and stream ~= 'stderr' then
        args.argerror(2, 'output', "'stdout' or 'stderr' expected, got " .. tostring(stream))
    end
    local p = probe('output', ('output matching %q'):format(pattern))
    p.pattern, p.stream = pattern, stream
    return p
end

--- sup.delay(seconds): ready that long after it started, if still running
function M.delay(seconds)
    args.seconds(1, 'delay', seconds)
    local p = probe('delay', ('%g s after start'):format(seconds), function()
        return true, ('up %g s'):format(seconds)
    end, true)
    p.seconds = seconds
    return p
end

-- A plain function is a custom probe: fn(timeout) -> truthy, or nil and why.
function M.from(value)
    if getmetatable(value) == Probe then
        return value
    elseif type(value) == 'function' then
        return probe('function', 'custom probe', function(_, timeout)
            local ok, why = value(timeout)
            if ok then
                return true, type(ok) == 'string' and ok or 'probe passed'
            end
            return nil, why and tostring(why) or 'probe failed'
        end)
    end
end

-- Run one check in a task of its own, cut off at `timeout`. `slot` (one
-- per service) holds the check in flight, for abort().
function M.run(p, child, timeout, slot)
    if p.bounded then
        local ran, ok, why = pcall(p.check, child, timeout, slot)
        if not ran then
            return nil, 'probe error: ' .. tostring(ok)
        elseif why == 'timeout' then -- init's word for it, in the words of a cut-off check
            why = ('no answer within %g s'):format(timeout)
        end
        return ok, why
    end
    local t = init.spawn(p.check, child, timeout, slot)
    slot.task = t
    local first = init.wait_any(t, timeout + 0.1) -- built-in checks bound themselves; this cuts off the rest
    slot.task = nil
    if not first then
        M.abort(slot)
        t:cancel()
        return nil, ('no answer within %g s'):format(timeout)
    end
    local ok, passed, why = pcall(t.wait, t)
    if not ok then
        return nil, 'probe error: ' .. tostring(passed)
    end
    return passed, why
end

-- End the check in flight, its command included (a stopped service
-- leaves nothing running behind it).
function M.abort(slot)
    if slot.task then
        slot.task:cancel()
        slot.task = nil
    end
    local child = slot.child
    if child then
        slot.child = nil
        child:kill()
        child:wait() -- reaped before the stop goes on: nothing of the service left behind
    end
end

return M
