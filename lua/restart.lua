-- Keep a command running: restart it whenever it exits, waiting 0.1 s,
-- 0.2 s, 0.4 s ... (at most MAX_DELAY) between tries; a run longer than
-- STABLE seconds resets the delay. More than BURST exits within WITHIN
-- seconds is a crash loop: luasup gives up and exits with the last code.
--   luasup lua/restart.lua CMD [ARGS...]
-- Environment: MAX_DELAY (30), STABLE (10), BURST (5), WITHIN (60).
local sup = require('supervise')

local cmd = { ... }
if #cmd == 0 then
    error('usage: luasup restart.lua CMD [ARGS...]', 0)
end
local function env(name, default)
    return tonumber(os.getenv(name)) or default
end

sup.service(cmd[1]:match('[^/]*$'), {
    cmd = cmd,
    critical = true, -- its giving up ends luasup, with its exit code
    backoff = { initial = 0.1, factor = 2, max = env('MAX_DELAY', 30), reset_after = env('STABLE', 10) },
    limit = { burst = env('BURST', 5), within = env('WITHIN', 60) },
})
return sup.run()
