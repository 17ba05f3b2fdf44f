-- Run an HTTP service and probe it; after 3 failed probes in a row, restart
-- it. The service here is Python's http.server; any server works.
--   luasup lua/health.lua [PORT] [INTERVAL]
local init = require('init')
local port = arg[1] or '8080'
local interval = tonumber(arg[2]) or 2
local url = ('http://127.0.0.1:%s/'):format(port)

local function start()
    return init.exec{ 'python3', '-m', 'http.server', port, '--bind', '127.0.0.1',
                      stdout = 'null', stderr = 'null', name = 'web' }
end

local web = start()
local failures = 0
init.every(interval, function()
    -- status, body, headers; or nil and why no answer came
    local status, body_or_err = init.http_get(url, { timeout = interval / 2 })
    if status == 200 then
        failures = 0
        return
    end
    failures = failures + 1
    local why = status and ('status ' .. status) or body_or_err
    init.log('warn', 'probe of %s failed (%s), %d in a row', url, why, failures)
    if failures >= 3 then
        web:kill()
        web:wait()
        web = start()
        failures = 0
        init.log('info', 'restarted web: now pid %d', web:pid())
    end
end)

init.wait()
