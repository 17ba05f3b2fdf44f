-- os.execute and io.popen for scripts, started through luasup's own spawn.
-- libc's system() and popen() would start the shell with the signal mask
-- of the thread that runs Lua, which blocks every signal luasup handles:
-- such a shell could not be stopped by SIGTERM. Started like init.exec's
-- children, the shell gets the signal state luasup was started with, and
-- its waits yield to the other tasks. In a coroutine the script created
-- itself luasup cannot wait, so libc's versions serve there.
local core = require('luasup.core')
local task = require('luasup.task')
local args = require('luasup.args')

local await, in_task, argerror = task.await, task.in_task, args.argerror
local type, tostring, tonumber, select, unpack = type, tostring, tonumber, select, unpack
local concat = table.concat

local M = {}

-- Handles the script dropped unclosed: their pipes are closed at the next
-- os.execute or io.popen (not from __gc, which may run in the middle of
-- anything), so their commands do not wait forever on them.
local dropped = {}

local function on_collect(pipe)
    local proxy = newproxy(true)
    getmetatable(proxy).__gc = function()
        if not pipe._closed then
            dropped[#dropped + 1] = pipe._c
        end
    end
    return proxy
end

local function close_dropped()
    local handles = dropped
    dropped = {}
    for i = 1, #handles do
        core.close_pipe(handles[i])
    end
end

-- The child, or nil and why it could not be started.
local function spawn(argv)
    close_dropped()
    local ok, child = pcall(require('luasup.process').exec, argv)
    if not ok then
        return nil, tostring(child):match('unable to spawn [^:]*: (.*)$') or tostring(child)
    end
    return child
end

-- As luaL_checkstring: a string, or a number taken as one.
local function check_string(n, fname, value)
    if type(value) ~= 'string' and type(value) ~= 'number' then
        argerror(n, fname, 'string expected, got ' .. type(value))
    end
end

--- os.execute(cmd) -> the raw wait status, as LuaJIT's own returns it
local function execute(original, cmd)
    if cmd ~= nil then
        check_string(1, 'execute', cmd)
    end
    if cmd == nil or not in_task() then
        return original(cmd)
    end
    local child = spawn{ '/bin/sh', '-c', tostring(cmd),
                         stdin = 'inherit', stdout = 'inherit', stderr = 'inherit' }
    if not child then
        return 127 * 256 -- what system() gives when the shell cannot run
    end
    local reason, code = await('os.execute', 'wait', child._c)
    return reason == 'signal' and code or code * 256
end

-- The handle io.popen returns: a file in the uses scripts have for one.
local Pipe = {}
Pipe.__index = Pipe

local function check_pipe(self, method)
    if getmetatable(self) ~= Pipe then
        argerror(1, method, 'FILE* expected, got ' .. type(self))
    end
    if self._closed then
        task.raise('attempt to use a closed file')
    end
end

-- The next chunk of the child's output, or nil at its end.
local function next_chunk(self)
    if self._eof then
        return nil
    end
    local chunk = await('file:read', 'read_pipe', self._c)
    if chunk == nil then
        self._eof = true
    end
    return chunk
end

-- Unread bytes are self._buf from self._pos on: reading moves the
-- position rather than copying what is left.
local function fill(self)
    local chunk = next_chunk(self)
    if chunk == nil then
        return false
    end
    if self._pos > #self._buf then
        self._buf = chunk
    else
        self._buf = self._buf:sub(self._pos) .. chunk
    end
    self._pos = 1
    return true
end

local function take(self, n)
    local s = self._buf:sub(self._pos, self._pos + n - 1)
    self._pos = self._pos + #s
    return s
end

local function read_all(self)
    local parts = { take(self, #self._buf) }
    for chunk in next_chunk, self do
        parts[#parts + 1] = chunk
    end
    return concat(parts)
end

local function read_line(self, keep_newline)
    local from = self._pos
    while true do
        local nl = self._buf:find('\n', from, true)
        if nl then
            local line = self._buf:sub(self._pos, keep_newline and nl or nl - 1)
            self._pos = nl + 1
            return line
        end
        from = #self._buf - self._pos + 2
        if not fill(self) then
            local rest = take(self, #self._buf)
            return rest ~= '' and rest or nil
        end
    end
end

local function read_count(self, n)
    if n <= 0 then -- '' unless at the end
        return (self._pos <= #self._buf or fill(self)) and '' or nil
    end
    local parts, got = {}, 0
    while got < n and (self._pos <= #self._buf or fill(self)) do
        parts[#parts + 1] = take(self, n - got)
        got = got + #parts[#parts]
    end
    return got > 0 and concat(parts) or nil
end

-- As fscanf's %lf: after blanks, the longest prefix of the next word that
-- is a number.
local function read_number(self)
    while not self._buf:find('^%s*[^%s]', self._pos) do
        self._pos = #self._buf + 1
        if not fill(self) then
            return nil
        end
    end
    self._pos = self._buf:find('[^%s]', self._pos)
    while not self._buf:find('[^%w%.%+%-]', self._pos) and fill(self) do
    end
    local word = self._buf:match('^[%w%.%+%-]*', self._pos)
    for len = #word, 1, -1 do
        local value = tonumber(word:sub(1, len))
        if value then
            self._pos = self._pos + len
            return value
        end
    end
    return nil
end

local READERS = {
    a = read_all,
    l = function(self) return read_line(self, false) end,
    L = function(self) return read_line(self, true) end,
    n = read_number,
}

local function read(self, ...)
    if self._mode ~= 'r' then
        return nil, 'Bad file descriptor', 9
    end
    local n = select('#', ...)
    if n == 0 then
        return read_line(self, false)
    end
    local results = {}
    for i = 1, n do
        local format = select(i, ...)
        local value
        if type(format) == 'number' then
            value = read_count(self, format)
        else
            local reader = type(format) == 'string' and READERS[format:match('^%*?(.)')]
            if not reader then
                argerror(i + 1, 'read', 'invalid format')
            end
            value = reader(self)
        end
        results[i] = value
        if value == nil then
            return unpack(results, 1, i)
        end
    end
    return unpack(results, 1, n)
end

--- f:read(format, ...) -> what LuaJIT's file:read returns
function Pipe:read(...)
    check_pipe(self, 'read')
    return read(self, ...)
end

--- f:lines(format, ...) -> an iterator calling f:read(format, ...)
function Pipe:lines(...)
    check_pipe(self, 'lines')
    local n, formats = select('#', ...), { ... }
    return function()
        if self._closed then
            task.raise('file is already closed')
        end
        return read(self, unpack(formats, 1, n))
    end
end

--- f:write(...) -> true, or nil, message, errno (as LuaJIT's, not f)
function Pipe:write(...)
    check_pipe(self, 'write')
    local n, data = select('#', ...), {}
    for i = 1, n do
        local value = select(i, ...)
        if type(value) == 'number' then
            value = ('%.14g'):format(value)
        elseif type(value) ~= 'string' then
            argerror(i + 1, 'write', 'string expected, got ' .. type(value))
        end
        data[i] = value
    end
    if self._mode ~= 'w' then
        return nil, 'Bad file descriptor', 9
    end
    data = concat(data, '', 1, n)
    if data ~= '' then
        local ok, err = await('file:write', 'write', self._c, data)
        if not ok then
            return nil, err, err == 'Broken pipe' and 32 or nil
        end
    end
    return true
end

--- f:flush() -> true: f:write has written everything already
function Pipe:flush()
    check_pipe(self, 'flush')
    return true
end

--- f:setvbuf(mode) -> true: f:write never buffers, whatever the mode
function Pipe:setvbuf()
    check_pipe(self, 'setvbuf')
    return true
end

--- f:seek() -> nil, "Illegal seek", 29, as for any pipe
function Pipe:seek()
    check_pipe(self, 'seek')
    return nil, 'Illegal seek', 29
end

--- f:close() -> true once the command has exited
function Pipe:close()
    check_pipe(self, 'close')
    self._closed = true
    core.close_pipe(self._c)
    await('file:close', 'wait', self._c)
    return true
end

function Pipe:__tostring()
    return self._closed and 'file (closed)' or 'file (' .. self._address .. ')'
end

task.guard_all(Pipe)

-- glibc's popen accepts a mode of 'r' or 'w' and 'e' (close-on-exec).
local function popen_mode(mode)
    if mode:find('^[rwe]+$') and (mode:find('r', 1, true) == nil) ~= (mode:find('w', 1, true) == nil) then
        return mode:find('r', 1, true) and 'r' or 'w'
    end
end

--- io.popen(cmd [, mode]) -> a pipe handle, or nil, message, errno
local function popen(original, cmd, mode)
    check_string(1, 'popen', cmd)
    if mode ~= nil then
        check_string(2, 'popen', mode)
    end
    if not in_task() then
        return original(cmd, mode)
    end
    cmd = tostring(cmd)
    local how = popen_mode(mode == nil and 'r' or tostring(mode))
    if not how then
        return nil, cmd .. ': Invalid argument', 22
    end
    local reading = how == 'r'
    local child, err = spawn{ '/bin/sh', '-c', cmd, stdin = reading and 'inherit' or 'pipe',
                              stdout = reading and 'capture' or 'inherit', stderr = 'inherit' }
    if not child then -- libc's popen gives nil, message, errno when it cannot fork
        return nil, cmd .. ': ' .. err
    end
    if reading then
        core.pipe_reader(child._c)
    end
    local pipe = { _child = child, _c = child._c, _mode = how, _buf = '', _pos = 1 }
    pipe._gc = on_collect(pipe)
    pipe._address = tostring(pipe):match('0x%x+') or '?'
    return setmetatable(pipe, Pipe)
end

-- Replace os.execute, io.popen (given the versions to fall back on) and
-- the io functions that must know a pipe handle.
function M.install()
    local original_execute, original_popen = os.execute, io.popen
    local io_type, io_close = io.type, io.close
    os.execute = task.guard(function(cmd) return execute(original_execute, cmd) end)
    io.popen = task.guard(function(cmd, mode) return popen(original_popen, cmd, mode) end)
    io.type = function(obj)
        if getmetatable(obj) == Pipe then
            return obj._closed and 'closed file' or 'file'
        end
        return io_type(obj)
    end
    io.close = function(file, ...)
        if getmetatable(file) == Pipe then
            return file:close()
        end
        return io_close(file, ...)
    end
end

return M
