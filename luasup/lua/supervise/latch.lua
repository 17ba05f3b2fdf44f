-- A latch: something tasks wait for until another task fires it, as with
-- asyncio.Event. Built on init alone: the waitable thing is a task that
-- sleeps "forever", and firing cancels it (a cancelled task counts as
-- finished for init.wait_any). One such task serves every waiter of one
-- firing; the next wait makes a new one.
local init = require('init')

local FOREVER = 1e9 -- seconds; its timer never fires

local Latch = {}
Latch.__index = Latch

local function sleeper()
    init.sleep(FOREVER)
end

-- A task to give init.wait_any: it finishes when the latch fires.
function Latch:task()
    if not self._task then
        self._task = init.spawn(sleeper)
    end
    return self._task
end

-- Wake every task waiting now.
function Latch:fire()
    local t = self._task
    if t then
        self._task = nil
        t:cancel()
    end
end

-- Wait until fired.
function Latch:wait()
    init.wait_any(self:task())
end

return function()
    return setmetatable({}, Latch)
end
