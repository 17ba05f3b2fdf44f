-- The output of a few services on the log bus: each line on the console
-- with its service's name in front, all of them with a time in one file
-- rotated every 4 KiB (three old files kept), and ERROR lines to an alert
-- function as well. Stand-ins that run anywhere: a counter, a chatty job
-- that fills the file past a rotation, a checker that reports an error.
--   luasup lua/logs.lua [DIR]       (DIR/app.log, DIR/app.log.1 ...)
local init = require('init')
local logs = require('logs')
local sup = require('supervise')
local dir = arg[1] or '/tmp'

local console = logs.console{prefix = '{name} | '} -- stdout lines to stdout, stderr to stderr
local file = logs.file{path = dir .. '/app.log', prefix = '{time} {name} {stream}: ',
                       rotate = {size = 4096, keep = 3}}
local alert = logs.fn(function(rec)
    -- a real one would page someone: init.exec{'/app/notify', rec.name, rec.line}
    init.log('warn', 'alert: %s said %q', rec.name, rec.line)
end)

logs.route{match = 'ERROR', to = alert} -- not final: these lines go on to the next route too
logs.route{to = {console, file}}

-- Declared after the logs, so the services' output goes to the bus.
sup.oneshot('counter', {cmd = {'sh', '-c', 'for i in 1 2 3; do echo "tick $i"; done'}})
sup.oneshot('chatty', {cmd = {'sh', '-c', [[
    i=0
    while [ $i -lt 200 ]; do i=$((i + 1)); echo "line $i of 200"; done]]}})
sup.oneshot('checker', {cmd = {'sh', '-c', 'echo "checking disk"; echo "ERROR: disk 97% full" >&2'}})

return sup.run()
