-- A policy driven from outside with `luasup ctl` (docs/ctl.md): three
-- services, the last 1000 lines of their output kept in memory for
-- `luasup ctl logs`, and the control socket, which sup.run() serves.
-- Stand-ins that run anywhere: a database that says when it is ready, a
-- web server that logs requests, a worker that does a job every 2 s.
--   luasup lua/control.lua                     (root: /run/luasup/ctl.sock)
--   LUASUP_CTL=/tmp/luasup-ctl/ctl.sock luasup lua/control.lua
-- and beside it:
--   luasup ctl list; luasup ctl logs -f web; luasup ctl restart worker
-- After `pip install -U luasup`, `luasup ctl reexec` (or `kill -USR2`)
-- moves everything to the new luasup in place: same pids, same ring.
local init = require('init')
local sup = require('supervise')
local logs = require('logs')

local ring = logs.ring{lines = 1000} -- what `luasup ctl logs` reads
logs.route{to = {logs.console{prefix = '{name} | '}, ring}}

sup.control{
    allow = {[65534] = 'read'}, -- nobody may list, read logs and probe; root and luasup's own uid may do all
    eval = true,                -- root may run Lua inside the policy: luasup ctl eval 'sup.list()'
}

sup.service('db', {
    cmd = {'sh', '-c', 'echo "db: ready to accept connections"; exec sleep 86400'},
    ready = sup.output('ready to accept'),
})
sup.service('web', {
    cmd = {'sh', '-c', 'echo listening; while sleep 1; do echo "GET / 200"; done'},
    after = 'db',
    critical = true, -- what `luasup ctl health` checks
    ready = sup.output('^listening'),
})
sup.service('worker', {
    cmd = {'sh', '-c', 'i=0; while i=$((i + 1)); do echo "job $i done"; sleep 2; done'},
    after = 'web',
})

if not sup.reloading then -- a reload runs the policy again, and init.on is not for that
    init.on('USR2', function() init.spawn(sup.reexec) end) -- docs/live.md
end

return sup.run()
