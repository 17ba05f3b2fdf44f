-- Run two children at once and wait for both; exit with the worse status.
-- Plain init calls, as in luavisors; services.lua keeps services running.
--   luasup lua/pair.lua [SECONDS]
local init = require('init')
local seconds = tonumber(arg[1]) or 1

local web = init.exec('sh', '-c', 'echo web up; sleep "$1"; echo web done', 'web', seconds)
local worker = init.exec('sh', '-c', 'echo worker up; sleep "$1"; echo worker done', 'worker', seconds)
print('started web', web:pid(), 'and worker', worker:pid())

-- Both run concurrently: waiting for one does not hold the other back.
local web_status, worker_status = web:status(), worker:status()
io.write(web:stdout(), worker:stdout())
print('web exited', web_status, 'worker exited', worker_status)
return math.max(web_status, worker_status)
