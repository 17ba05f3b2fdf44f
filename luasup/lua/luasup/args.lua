-- Argument checks shared by the init functions: errors name the script's
-- line and read like Lua's own, `bad argument #1 to 'exec' (...)`.
local task = require('luasup.task')
local core = require('luasup.core')

local M = {}
local type, tostring = type, tostring

function M.argerror(n, fname, message)
    task.raise(("bad argument #%d to '%s' (%s)"):format(n, fname, message))
end
local argerror = M.argerror

function M.check(n, fname, value, expected)
    if type(value) ~= expected then
        argerror(n, fname, expected .. ' expected, got ' .. type(value))
    end
end
local check = M.check

function M.seconds(n, fname, value)
    check(n, fname, value, 'number')
    if not (value >= 0 and value < math.huge) then
        argerror(n, fname, 'non-negative finite number expected, got ' .. tostring(value))
    end
end

-- A whole number in [low, high].
function M.integer(n, fname, value, low, high, what)
    check(n, fname, value, 'number')
    if not (value % 1 == 0 and value >= low and value <= high) then
        argerror(n, fname, ('%s expected, got %s'):format(what, tostring(value)))
    end
    return value
end

-- A method called with '.' instead of ':' gets no object of its kind.
function M.self(obj, mt, kind, method)
    if getmetatable(obj) ~= mt then
        task.raise(("bad argument #1 to '%s' (%s expected, got %s); call it as %s:%s()")
            :format(method, kind, type(obj), kind, method))
    end
end

-- A timeout argument may be absent (wait forever).
function M.timeout(n, fname, value)
    if value ~= nil then
        M.seconds(n, fname, value)
    end
end

-- A signal given as a number, 'TERM' or 'SIGTERM' -> its number.
function M.signal(n, fname, sig)
    if type(sig) == 'number' then
        if sig >= 0 and sig <= core.max_signal and sig % 1 == 0 then
            return sig
        end
    elseif type(sig) == 'string' then
        local name = sig:upper()
        if name:sub(1, 3) ~= 'SIG' then
            name = 'SIG' .. name
        end
        local num = core.signals[name]
        if num then
            return num
        end
    else
        argerror(n, fname, 'signal name or number expected, got ' .. type(sig))
    end
    argerror(n, fname, "unknown signal '" .. tostring(sig) .. "'")
end

-- Check a table of options against `spec` (key -> type, or list of types).
function M.options(n, fname, opts, spec)
    for key, value in pairs(opts) do
        if type(key) == 'string' then
            local want = spec[key]
            if want == nil then
                argerror(n, fname, "unknown option '" .. key .. "'")
            end
            local ok = false
            for expected in want:gmatch('[^|]+') do
                ok = ok or type(value) == expected
            end
            if not ok then
                argerror(n, fname, ("option '%s': %s expected, got %s")
                    :format(key, want:gsub('|', ' or '), type(value)))
            end
        end
    end
end

-- HTTP header fields { name = value } -> { name1, value1, name2, value2, ... }
function M.headers(n, fname, headers)
    local flat = {}
    for name, value in pairs(headers) do
        if type(name) ~= 'string' then
            argerror(n, fname, 'header name must be a string, got ' .. type(name))
        end
        if not name:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
            argerror(n, fname, "invalid header name '" .. name .. "'")
        end
        if type(value) == 'number' then
            value = tostring(value)
        elseif type(value) ~= 'string' then
            argerror(n, fname, ("header '%s': string expected, got %s"):format(name, type(value)))
        end
        if value:find('[%z\r\n]') then
            argerror(n, fname, ("header '%s' contains a line break or NUL"):format(name))
        end
        flat[#flat + 1] = name
        flat[#flat + 1] = value
    end
    return flat
end

return M
