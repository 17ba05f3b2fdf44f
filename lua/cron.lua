-- A periodic job that never overlaps itself: each run takes longer than the
-- period, so the next one starts when it ends, not on top of it.
--   luasup lua/cron.lua [PERIOD] [RUNS]
local init = require('init')
local period = tonumber(arg[1]) or 1
local runs = tonumber(arg[2]) or 3

local running, done = 0, 0
init.every(period, function()
    running = running + 1
    print(('run %d starts (%d running)'):format(done + 1, running))
    -- the job: a command that outlasts the period
    init.exec('sleep', period * 1.5):wait()
    running = running - 1
    done = done + 1
    print(('run %d ends'):format(done))
end)

while done < runs do
    init.sleep(period / 10)
end
