-- The Lua half of the bridge. Each luasup task is a coroutine that the
-- Python loop resumes; a blocking-looking call yields a request (an op name
-- and its arguments) that Python awaits, then resumes the coroutine with the
-- results.
local M = {}

local unpack, select, type, tostring = unpack, select, type, tostring
local co_create, co_resume, co_yield = coroutine.create, coroutine.resume, coroutine.yield
local co_running, co_status = coroutine.running, coroutine.status

local by_id = {}
local names = setmetatable({}, { __mode = 'k' })

-- Python resumes a coroutine with RAISE, message to make the waiting call
-- raise a Lua error at its caller's line.
local RAISE = {}
M.RAISE = RAISE

-- Frames inside this package's Lua files and the task wrapper are noise in
-- a script's traceback: only the script's own frames are kept.
local here = debug.getinfo(1, 'S').source
local package_dir = here:match('^@(.*/)luasup/task%.lua$') or '\0'

-- debug.traceback shortens a long path to '...' and its tail: in an
-- installed luasup (site-packages), our files are known by that tail.
local function ours(line)
    return line:find(package_dir, 1, true) or line:find('luasup/lua/luasup/', 1, true)
        or line:find('luasup/lua/init.lua', 1, true) or line:find('^%s*%[builtin#')
        or line:find("^%s*%[C%]: in function 'xpcall'")
end

local function our_source(info)
    return info.source:sub(2, #package_dir + 1) == package_dir
end

-- Errors name the script's line, not ours: the first frame outside this
-- package's Lua files above the innermost one inside them (tail calls and
-- helpers make fixed error levels unreliable). `level` counts from the
-- caller of where(), as error's does.
local function where(level)
    local inside = false
    for l = level + 1, 200 do
        local info = debug.getinfo(l, 'Sl')
        if not info then
            break
        end
        if our_source(info) then
            inside = true
        elseif inside and info.currentline > 0 then
            return info.short_src .. ':' .. info.currentline .. ': '
        end
    end
    return ''
end

-- An error raised inside luasup's Lua code (a Lua runtime error, a
-- script's metamethod erroring at level 2, a Python exception from the
-- core) gets the script's position instead of ours. Call it from an error
-- handler: `level` is where the error was raised, counted from the caller.
local function located(err, level)
    if type(err) == 'userdata' then -- a Python exception: no position at all
        return where(level + 1) .. tostring(err)
    elseif type(err) ~= 'string' then
        return err
    end
    for l = level + 1, 200 do
        local info = debug.getinfo(l, 'Sl')
        if not info then
            break
        end
        if our_source(info) and info.currentline > 0 then
            local at = info.short_src .. ':' .. info.currentline .. ': '
            if err:sub(1, #at) == at then
                return where(level + 1) .. err:sub(#at + 1)
            end
        end
    end
    return err
end

function M.traceback(err)
    err = located(err, 2)
    if type(err) ~= 'string' then
        local mt = getmetatable(err)
        err = (mt and mt.__tostring) and tostring(err)
            or ('(error object is a ' .. type(err) .. ' value)')
    end
    local lines = {}
    for line in debug.traceback(err, 2):gmatch('[^\n]+') do
        if not ours(line) then
            lines[#lines + 1] = line
        end
    end
    return table.concat(lines, '\n')
end
local traceback = M.traceback

local function relocate(err)
    local located_err = located(err, 2) -- not a tail call: that would shift the levels
    return located_err
end

local function rethrow(ok, ...)
    if ok then
        return ...
    end
    error((...), 0)
end

-- fn, made to raise its errors at the script's line (see located).
function M.guard(fn)
    return function(...)
        return rethrow(xpcall(fn, relocate, ...))
    end
end

-- Guard every function of a table: the init module, an object's methods.
function M.guard_all(t)
    for key, value in pairs(t) do
        if type(value) == 'function' then
            t[key] = M.guard(value)
        end
    end
    return t
end

-- A task's name: KIND FILE:LINE, where fn was defined, or for a function
-- of luasup's own or a C function, where the script asked for the task.
function M.job_name(kind, fn)
    local info = debug.getinfo(fn, 'S')
    if info.what ~= 'C' and not our_source(info) then
        return ('%s %s:%d'):format(kind, info.short_src, info.linedefined)
    end
    local at = where(1)
    return kind .. ' ' .. (at ~= '' and at:sub(1, -3) or '?')
end

function M.create(id, name, fn, ...)
    local n, args = select('#', ...), { ... }
    local co = co_create(function()
        return xpcall(fn, traceback, unpack(args, 1, n))
    end)
    by_id[id] = co
    names[co] = name
end

local function finish(id, co, ok, ...)
    if not ok then -- only when the traceback handler itself failed
        by_id[id] = nil
        return 'error', tostring((...))
    end
    if co_status(co) ~= 'dead' then
        return 'yield', ...
    end
    by_id[id] = nil
    if (...) then
        return 'done', select(2, ...)
    end
    return 'error', select(2, ...)
end

function M.resume(id, ...)
    local co = by_id[id]
    return finish(id, co, co_resume(co, ...))
end

function M.drop(id)
    by_id[id] = nil
end

function M.raise(message)
    error(where(1) .. message, 0)
end
local raise = M.raise

local function checked(ok, ...)
    if ok == RAISE then
        raise((...))
    end
    return ok, ...
end

-- Wait for Python to carry out `op`. `fname` names the init function for
-- the error raised when this is not called from a luasup task.
function M.await(fname, op, ...)
    local co = co_running()
    if not names[co] then
        raise(fname .. ": cannot wait inside a coroutine the script created"
            .. " itself (its yield would go to that coroutine, not to luasup);"
            .. " call it from the main chunk or an init.every job")
    end
    return checked(co_yield(op, ...))
end

-- Whether a call made now can wait: it runs in a luasup task, not in a
-- coroutine the script created itself.
function M.in_task()
    return names[co_running()] ~= nil
end

-- coroutine.yield for scripts: a luasup task is resumed by luasup alone,
-- so a raw yield there would hand luasup a request it cannot read.
function M.yield(...)
    if names[co_running()] then
        raise('coroutine.yield outside a coroutine the script created: luasup resumes'
            .. ' its tasks itself; wait with init.sleep, child:wait or another call that waits')
    end
    return co_yield(...)
end

return M
