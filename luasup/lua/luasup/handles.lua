-- Lua knows a child or a task by an integer handle under which Python keeps
-- the real object: lupa keeps a slot for every Python object handed to Lua
-- and its table of them never shrinks, which a restart loop or a probe every
-- second would add up. Python drops the object once Lua has dropped the
-- handle's owner: the handles collected since go back at the next exec or
-- spawn.
local core = require('luasup.core')

local M = {}
local released = {}

-- A value to keep in the owner: when the owner is collected, so is this,
-- and the handle is queued for release.
function M.on_collect(handle)
    local proxy = newproxy(true)
    getmetatable(proxy).__gc = function()
        released[#released + 1] = handle
    end
    return proxy
end

function M.release()
    if #released == 0 then
        return
    end
    local handles = released
    released = {}
    for i = 1, #handles, 100 do
        core.release(unpack(handles, i, math.min(i + 99, #handles)))
    end
end

return M
