-- Keep a command running: restart it whenever it exits, waiting 0.1 s,
-- 0.2 s, 0.4 s ... (at most MAX_DELAY) between tries. A run that lasted
-- longer than STABLE seconds counts as healthy and resets the delay.
--   luasup lua/restart.lua CMD [ARGS...]
-- Environment: MAX_RESTARTS (default: no limit), MAX_DELAY (30), STABLE (10).
local init = require('init')

local cmd = { ... }
if #cmd == 0 then
    error('usage: luasup restart.lua CMD [ARGS...]', 0)
end
local max_restarts = tonumber(os.getenv('MAX_RESTARTS'))
local max_delay = tonumber(os.getenv('MAX_DELAY')) or 30
local stable = tonumber(os.getenv('STABLE')) or 10

local delay, restarts = 0.1, 0
while true do
    local started = init.now()
    local child = init.exec{ cmd, stdout = 'inherit', stderr = 'inherit', name = cmd[1] }
    local _, how, code = child:wait()
    init.log('info', '%s exited (%s %d)', cmd[1], how, code)
    if max_restarts and restarts >= max_restarts then
        return child:code() -- the code, or 128 + N for signal N
    end
    if init.now() - started >= stable then
        delay = 0.1
    end
    init.log('info', 'restarting %s in %.1f s', cmd[1], delay)
    init.sleep(delay)
    delay = math.min(delay * 2, max_delay)
    restarts = restarts + 1
end
