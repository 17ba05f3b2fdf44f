-- A tour of the luavisors-compatible `init` API: every call once.
--   luasup lua/tour.lua
local init = require('init')

print('luasup pid', init.pid())

-- exec: arguments may be strings, numbers or tables of them
local greet = init.exec('printf', '%s-%s|', { 'a', 'b' }, 3, 'c')
print('child pid', greet:pid())
print('stdout', greet:stdout())          -- waits for the stream to close
print('stderr', greet:stderr())          -- nil: nothing was written
print('status', greet:status())          -- 0

-- a child that writes to stderr and fails
local failing = init.exec('sh', '-c', 'echo oops >&2; exit 3')
print('stderr', failing:stderr())
print('status', failing:status())        -- 3

-- kill() sends SIGKILL to the child's process group and returns 9
local sleeper = init.exec('sleep', 30)
print('kill', sleeper:kill())
print('killed by', sleeper:status() == init.signal.SIGKILL and 'SIGKILL' or '?')

-- init.kill signals any pid, by number or by name
local other = init.exec('sleep', 30)
print('init.kill', init.kill(other:pid(), init.signal.SIGTERM))
print('terminated by', other:status() == init.signal.SIGTERM and 'SIGTERM' or '?')

-- every: a job in a task of its own; the main chunk keeps sleeping meanwhile
local ticks = 0
init.every(0.2, function(label)
    ticks = ticks + 1
    print(label, ticks)
end, 'tick')
init.sleep(0.5)
print('ticks while sleeping', ticks)

-- the script's return value is luasup's exit code
return 0
