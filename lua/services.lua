-- A small application as services: a migration that must succeed first, an
-- HTTP app that counts as running once it answers and is restarted when its
-- health check fails, and a worker that starts once the app runs. A SIGTERM
-- stops them in reverse order: the worker, then the app.
-- Stand-ins that run anywhere: the migration writes DIR/healthz, the app is
-- Python's http.server over DIR, the worker takes the files put in DIR/queue.
--   luasup lua/services.lua [DIR] [PORT]
local sup = require('supervise')
local dir = arg[1] or '/tmp/luasup-services'
local port = arg[2] or '8080'
local healthz = ('http://127.0.0.1:%s/healthz'):format(port)

sup.oneshot('migrate', { -- critical: if it fails, nothing else starts and luasup exits with its code
    cmd = { 'sh', '-c', 'mkdir -p "$1/queue" && echo ok > "$1/healthz"', 'migrate', dir },
    timeout = 60,
})

sup.service('app', {
    cmd = { 'python3', '-m', 'http.server', port, '--bind', '127.0.0.1', '--directory', dir },
    after = 'migrate',
    critical = true, -- if it gives up (a crash loop), luasup stops everything
    stdout = 'null', stderr = 'null', -- http.server logs every request
    ready = sup.http(healthz),
    health = { probe = sup.http(healthz), every = 1, failures = 3 },
})

local WORKER = [[
while :; do
    for job in "$1"/queue/*; do
        [ -e "$job" ] && rm "$job" && echo "did ${job##*/}"
    done
    sleep 0.2
done]]
sup.service('worker', {
    cmd = { 'sh', '-c', WORKER, 'worker', dir },
    after = 'app',
    restart = 'on-failure',
    prefix = 'worker: ',
})

return sup.run()
