-- Periodically stop a main process, run an update, and restart it.
-- Both are luasup itself (arg[-1]) running a line of Lua, standing in for a
-- real server and a real updater.
--   luasup lua/updater.lua [ROUNDS] [PERIOD]
local init = require('init')
local rounds = tonumber(arg[1]) or 2
local period = tonumber(arg[2]) or 1

local function luasup(code)
    return init.exec(arg[-1], code)
end

local function start_server()
    return luasup("require('init').sleep(3600)")
end

local server = start_server()
print('server started', server:pid())

local done = 0
init.every(period, function()
    if done == rounds then
        return
    end
    server:kill()
    print('server stopped by signal', server:status())
    local update = luasup("print('updated'); return 0")
    print('update says', update:stdout():gsub('\n$', ''), 'and exited', update:status())
    server = start_server()
    done = done + 1
    print('server restarted', server:pid(), 'round', done)
end)

while done < rounds do
    init.sleep(period / 4)
end
server:kill()
return server:status() == init.signal.SIGKILL and 0 or 1
