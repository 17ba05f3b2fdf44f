-- Send SIGHUP to a service whenever its configuration file changes (a burst
-- of writes gives one reload, after the burst).
--   luasup lua/reload.lua CONFIG CMD [ARGS...]
local init = require('init')
local config = arg[1]
local cmd = { select(2, ...) }
if not config or #cmd == 0 then
    error('usage: luasup reload.lua CONFIG CMD [ARGS...]', 0)
end

-- the watch first: a change made as soon as the service has started is seen
local service
assert(init.watch(config, function(path)
    init.log('info', '%s changed: sending SIGHUP to %s', path, cmd[1])
    service:signal('HUP')
end))
service = init.exec{ cmd, stdout = 'inherit', stderr = 'inherit', name = cmd[1] }

return service:code()
