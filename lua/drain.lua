-- Graceful drain: on SIGTERM, ask the worker to finish its work (SIGQUIT)
-- and give it DRAIN seconds; then luasup stops what is left as usual
-- (SIGTERM, the grace period, SIGKILL) and exits 143, as for any SIGTERM.
-- If the worker exits on its own, luasup exits with its code.
--   luasup lua/drain.lua CMD [ARGS...]       (DRAIN=20 by default)
local init = require('init')
local drain = tonumber(os.getenv('DRAIN')) or 20
local cmd = { ... }
if #cmd == 0 then
    error('usage: luasup drain.lua CMD [ARGS...]', 0)
end

local worker = init.exec{ cmd, stdout = 'inherit', stderr = 'inherit', name = 'worker' }

-- init.on takes SIGTERM over: luasup's own stop (and its grace period) only
-- begins when the handler calls init.exit, so the drain is never cut short.
-- The container engine's own timeout must cover DRAIN plus that grace.
local draining = false
init.on('TERM', function()
    draining = true
    init.log('info', 'draining worker for up to %g s', drain)
    worker:signal('QUIT')
    if not worker:wait(drain) then
        init.log('warn', 'worker still busy after %g s: sending SIGTERM', drain)
    end
    init.exit(128 + init.signal.SIGTERM)
end)

local code = worker:code()
if draining then
    -- the worker finished draining: the handler decides the exit code
    return init.wait()
end
return code
