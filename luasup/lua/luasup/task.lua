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

local function ours(line)
    return line:find(package_dir, 1, true) or line:find('^%s*%[builtin#')
        or line:find("^%s*%[C%]: in function 'xpcall'")
end

function M.traceback(err)
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

-- Errors name the script's line, not ours: the first frame outside this
-- package's Lua files (tail calls make fixed error levels unreliable).

function M.where()
    for level = 2, 100 do
        local info = debug.getinfo(level, 'Sl')
        if not info then
            break
        end
        if info.currentline > 0 and info.source:sub(2, #package_dir + 1) ~= package_dir then
            return info.short_src .. ':' .. info.currentline .. ': '
        end
    end
    return ''
end

function M.raise(message)
    error(M.where() .. message, 0)
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

return M
