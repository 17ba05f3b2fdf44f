-- Run an HTTP service and probe it: it is running once it answers, and
-- after 3 failed probes in a row it is restarted. The service here is
-- Python's http.server; any server works.
--   luasup lua/health.lua [PORT] [INTERVAL]
local sup = require('supervise')
local port = arg[1] or '8080'
local interval = tonumber(arg[2]) or 2
local url = ('http://127.0.0.1:%s/'):format(port)

sup.service('web', {
    cmd = { 'python3', '-m', 'http.server', port, '--bind', '127.0.0.1' },
    stdout = 'null', stderr = 'null',
    ready = sup.http(url),
    health = { probe = sup.http(url), every = interval, timeout = interval / 2, failures = 3 },
})
return sup.run()
