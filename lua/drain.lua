-- Graceful drain: on SIGTERM, ask the worker to finish its work (SIGQUIT),
-- give it DRAIN seconds, then SIGTERM it, and exit with its status.
--   luasup lua/drain.lua CMD [ARGS...]       (DRAIN=20 by default)
local init = require('init')
local drain = tonumber(os.getenv('DRAIN')) or 20
local cmd = { ... }
if #cmd == 0 then
    error('usage: luasup drain.lua CMD [ARGS...]', 0)
end

-- luasup's own grace must outlast the drain, or it would cut it short
init.shutdown_grace(drain + 5)
local worker = init.exec{ cmd, stdout = 'inherit', stderr = 'inherit', name = 'worker' }

init.on('TERM', function()
    init.log('info', 'draining worker for up to %g s', drain)
    worker:signal('QUIT')
    if not worker:wait(drain) then
        init.log('warn', 'worker still busy after %g s: sending SIGTERM', drain)
        worker:signal('TERM')
    end
end)

local _, how, code = worker:wait()
return how == 'exit' and code or 128 + code
