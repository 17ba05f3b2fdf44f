-- Probes and plumbing for init: tcp_check, http_get, watch and listen.
-- The argument checks and the Lua objects live here; the waiting, the
-- sockets and inotify in luasup/probes.py and the modules it uses.
local core = require('luasup.core')
local task = require('luasup.task')

local await, raise = task.await, task.raise
local type, tostring, pairs, select, setmetatable, getmetatable, unpack =
    type, tostring, pairs, select, setmetatable, getmetatable, unpack

local M = {}

-- Open listeners by the address and name they were asked for, so that a
-- reload of the policy gets the same sockets again (supervise/reload.lua).
local open_listeners = setmetatable({}, { __mode = 'v' })
local function listener_key(address, name)
    return address .. '\0' .. name
end

--- The open listener asked for with this address and name, if any.
function M.listener_for(address, name)
    return open_listeners[listener_key(address, name)]
end

-- Metatables of the objects handed to scripts, so other modules (exec's
-- fds=) can recognise them: getmetatable(x) == require('luasup.probes').Listener
local Watcher = {}
Watcher.__index = Watcher
local Listener = {}
Listener.__index = Listener
local Proxy = {}
Proxy.__index = Proxy
M.Watcher, M.Listener, M.Proxy = Watcher, Listener, Proxy

local args = require('luasup.args')
local check_self = args.self

--- watcher:cancel() -> true; no more calls after this (one already
-- running finishes). Cancelling twice is harmless.
function Watcher:cancel()
    check_self(self, Watcher, 'watcher', 'cancel')
    core.watch_cancel(self._w)
    return true
end

function Watcher:__tostring()
    return 'watcher ' .. self._path
end

--- listener:fd() -> the listening socket's file descriptor in luasup
-- A listener's methods but close and address need it open.
local function open_listener(self, method)
    check_self(self, Listener, 'listener', method)
    if not self._fd then
        raise('attempt to use a closed listener')
    end
end

function Listener:fd()
    open_listener(self, 'fd')
    return self._fd
end

--- listener:address() -> the bound address, e.g. "tcp://127.0.0.1:43817"
function Listener:address()
    check_self(self, Listener, 'listener', 'address')
    return self._address
end

--- listener:close() -> true. Children that were given the socket keep
-- their copy. Closing twice is harmless.
function Listener:close()
    check_self(self, Listener, 'listener', 'close')
    if self._fd then
        core.listen_close(self._handle)
        self._fd = nil
        if open_listeners[self._key] == self then
            open_listeners[self._key] = nil
        end
    end
    return true
end

--- listener:wait([timeout]) -> true once a connection waits to be accepted
-- (it stays for whoever accepts it), or nil, 'timeout'
function Listener:wait(timeout)
    open_listener(self, 'wait')
    args.timeout(1, 'wait', timeout)
    return await('wait', 'listen_wait', self._handle, timeout)
end

--- listener:connections() -> the connections accepted through it that are
-- still open, plus those waiting to be accepted
function Listener:connections()
    open_listener(self, 'connections')
    return core.listen_connections(self._handle)
end

function Listener:__tostring()
    return ('listener %s %s%s'):format(self._name, self._address, self._fd and '' or ' (closed)')
end

--- proxy:open() -> true: clients go through to the target from now on
-- (the held ones first)
function Proxy:open()
    check_self(self, Proxy, 'proxy', 'open')
    core.proxy_gate(self._p, true)
    return true
end

--- proxy:shut() -> true: new clients are held (not refused) until open()
function Proxy:shut()
    check_self(self, Proxy, 'proxy', 'shut')
    core.proxy_gate(self._p, false)
    return true
end

--- proxy:wait() -> true once a client is held behind the shut gate
function Proxy:wait()
    check_self(self, Proxy, 'proxy', 'wait')
    return await('wait', 'proxy_demand', self._p)
end

--- proxy:connections() -> clients connected now, held ones included, or
-- if more, those that connected since the last call
function Proxy:connections()
    check_self(self, Proxy, 'proxy', 'connections')
    return core.proxy_connections(self._p)
end

--- proxy:close() -> true: no more accepting; connected clients are cut
function Proxy:close()
    check_self(self, Proxy, 'proxy', 'close')
    core.proxy_close(self._p)
    return true
end

function Proxy:__tostring()
    return ('proxy %s -> %s'):format(self._from, self._to)
end

task.guard_all(Watcher)
task.guard_all(Listener)
task.guard_all(Proxy)

function M.install(init, argerror, check)

    -- An options table: every key known, every value of its type.
    local function options(n, fname, given, spec)
        if given == nil then
            return {}
        end
        check(n, fname, given, 'table')
        for key, value in pairs(given) do
            local expected = type(key) == 'string' and spec[key]
            if not expected then
                argerror(n, fname, "unknown option '" .. tostring(key) .. "'")
            end
            if type(value) ~= expected then
                argerror(n, fname, ("option '%s': %s expected, got %s")
                    :format(key, expected, type(value)))
            end
        end
        return given
    end

    local function check_number(n, fname, label, value, least, integer)
        if not (value >= least and value < math.huge) or (integer and value % 1 ~= 0) then
            argerror(n, fname, ('%s%s%s expected, got %s'):format(label,
                least > 0 and 'positive' or 'non-negative',
                integer and ' integer' or ' finite number', tostring(value)))
        end
    end

    --- init.tcp_check(host, port [, timeout]) -> true, or nil and a message.
    -- Connects to host:port and closes again; timeout in seconds (default 2).
    function init.tcp_check(host, port, timeout)
        check(1, 'tcp_check', host, 'string')
        -- a port may come from os.getenv: a string of digits is a number too
        local number = port
        if type(port) == 'string' then
            number = port:find('^%d+$') and tonumber(port)
        elseif type(port) ~= 'number' then
            argerror(2, 'tcp_check', 'number or string expected, got ' .. type(port))
        end
        if not (number and number >= 1 and number <= 65535 and number % 1 == 0) then
            argerror(2, 'tcp_check', 'port number 1-65535 expected, got '
                .. (type(port) == 'string' and "'" .. port .. "'" or tostring(port)))
        end
        port = number
        if timeout == nil then
            timeout = 2
        else
            check(3, 'tcp_check', timeout, 'number')
            check_number(3, 'tcp_check', '', timeout, 1e-9)
        end
        return await('init.tcp_check', 'tcp_check', host, port, timeout)
    end

    local HTTP_OPTIONS = { timeout = 'number', headers = 'table', max_body = 'number' }

    local function response(status, body, ...)
        if status == nil then
            return nil, body
        end
        local headers = {}
        for i = 1, select('#', ...), 2 do
            local name, value = select(i, ...)
            headers[name] = value
        end
        return status, body, headers
    end

    --- init.http_get(url [, {timeout=5, headers={}, max_body=1048576}])
    -- -> status, body, headers (lowercase names), or nil and a message
    function init.http_get(url, opts)
        check(1, 'http_get', url, 'string')
        opts = options(2, 'http_get', opts, HTTP_OPTIONS)
        local timeout, max_body = opts.timeout or 5, opts.max_body or 1048576
        check_number(2, 'http_get', "option 'timeout': ", timeout, 1e-9)
        check_number(2, 'http_get', "option 'max_body': ", max_body, 0, true)
        local flat = args.headers(2, 'http_get', opts.headers or {})
        return response(await('init.http_get', 'http_get', url, timeout, max_body,
            unpack(flat, 1, #flat)))
    end

    --- init.watch(path, fn [, {debounce=0.1}]) -> watcher, or nil and a
    -- message. Calls fn(path) in a task of its own after each burst of
    -- changes, once `debounce` seconds pass without another.
    function init.watch(path, fn, opts)
        check(1, 'watch', path, 'string')
        check(2, 'watch', fn, 'function')
        opts = options(3, 'watch', opts, { debounce = 'number' })
        local debounce = opts.debounce or 0.1
        check_number(3, 'watch', "option 'debounce': ", debounce, 0)
        local handle, err = core.watch_start(path, debounce)
        if not handle then
            return nil, err
        end
        local name = task.job_name('watch ' .. path .. ' job', fn)
        core.run_task(name, function()
            -- calls never overlap: changes during a call give one call after it
            while await('init.watch', 'watch_next', handle) do
                local ok, e = xpcall(fn, task.traceback, path)
                if not ok then
                    core.report_error(name, e)
                end
            end
        end)
        return setmetatable({ _w = handle, _path = path }, Watcher)
    end

    --- init.listen(address [, {name="listener"}]) -> listener, or nil and a
    -- message. A listening socket for children (LISTEN_FDS); never accepted.
    function init.listen(address, opts)
        check(1, 'listen', address, 'string')
        opts = options(2, 'listen', opts, { name = 'string' })
        local name = opts.name or 'listener'
        -- LISTEN_FDNAMES is colon-separated and meant to be printable
        if #name == 0 or #name > 255 or name:find('[^\32-\126]') or name:find(':', 1, true) then
            argerror(2, 'listen', "option 'name': 1-255 printable ASCII characters"
                .. " without ':' expected, got '" .. name .. "'")
        end
        local handle, fd, bound = core.listen(address, name)
        if not handle then
            return nil, fd
        end
        local listener = setmetatable({ _handle = handle, _fd = fd, _name = name, _address = bound,
            _key = listener_key(address, name) }, Listener)
        open_listeners[listener._key] = listener
        return listener
    end

    --- init.proxy(listener, target) -> proxy, or nil and a message: luasup
    -- accepts on listener and, while the proxy is open, connects each
    -- client to target (tcp://HOST:PORT, unix:///PATH); while it is shut,
    -- clients are held. Starts shut.
    function init.proxy(listener, target)
        if getmetatable(listener) ~= Listener then
            argerror(1, 'proxy', 'listener expected, got ' .. type(listener))
        elseif not listener._fd then
            argerror(1, 'proxy', 'the listener is closed')
        end
        check(2, 'proxy', target, 'string')
        local p, err = core.proxy(listener._handle, target)
        if not p then
            return nil, err
        end
        return setmetatable({ _p = p, _from = listener._address, _to = target }, Proxy)
    end
end

return M
