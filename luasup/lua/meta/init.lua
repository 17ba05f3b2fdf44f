---@meta init

-- Type definitions of luasup's `init` module for lua-language-server
-- (LuaLS). This file only describes the API: luasup never loads it. Point
-- `workspace.library` at the directory that holds it (docs/lua-api.md,
-- "Editor support") and `local init = require('init')` gets completion,
-- hover text and type checks.
--
-- Functions marked @async wait: they yield to luasup's event loop, so other
-- tasks run meanwhile. Call them from the main chunk or from any function
-- luasup runs in a task (spawn, every, after, on, watch, on_exit, a stdout
-- or stderr function), also inside pcall, but not from a coroutine the
-- script created itself.
--
-- Errors: a mistake in a call raises "FILE:LINE: bad argument #N to 'NAME'
-- (...)" at the script's line; a failure of the world (a refused
-- connection, a missing file) is a second return value after nil, where
-- the function's @return says so.

---A signal: its number, or its name with or without the SIG prefix, in any
---case: `15`, `'TERM'`, `'SIGTERM'`, `'term'`, `'RTMIN+1'`.
---@alias luasup.Signal integer|string

---A command argument: a string, a number (converted with tostring), or a
---table of them, flattened in order (nested tables too).
---@alias luasup.Arg string|number|table

---Where a child's stdout or stderr goes.
---@alias luasup.Output
---| 'capture' # kept in luasup for child:stdout()/child:stderr() and child:lines() (the default)
---| 'inherit' # luasup's own stdout/stderr
---| 'null'    # /dev/null
---| 'log'     # records on the log bus (require('logs')): routed to its sinks
---| string    # a file path (must contain a '/'): opened for appending, created with mode 0644; a FIFO must already have a reader
---| fun(line: string, continues: true?) # called with each line (without its newline), in a task of its own; `continues` is true for a piece of a line longer than LUASUP_LINE_BYTES that goes on in the next call; the stream is captured too

---What `child:wait()` reports as the reason.
---@alias luasup.ExitReason
---| 'exit'    # the child exited; the third value is its exit code
---| 'signal'  # a signal killed it; the third value is the signal number
---| 'timeout' # (second value after nil) the timeout ran out first

---The log levels of `init.log`.
---@alias luasup.LogLevel
---| 'error' # "luasup: error: TEXT", always shown
---| 'warn'  # "luasup: warning: TEXT"
---| 'info'  # "luasup: TEXT"
---| 'debug' # "luasup: debug: TEXT", shown at LUASUP_LOG_LEVEL=debug

---What `init.on` does with a signal instead of calling a function.
---@alias luasup.SignalAction
---| 'default' # back to luasup's own handling (SIGTERM/SIGINT stop luasup, others are relayed to children)
---| 'ignore'  # neither acted on nor relayed

-----------------------------------------------------------------------------
-- Option tables
-----------------------------------------------------------------------------

---The table form of `init.exec`: the command and its arguments in the
---array part (`[1]` is the command, searched in PATH; tables are
---flattened), options by name. Every option is checked: an unknown name or
---a value of the wrong type is a `bad argument #1 to 'exec'` error.
---@class luasup.ExecOptions
---@field [1] string The command (searched in PATH).
---@field [integer] luasup.Arg Further arguments: strings, numbers or tables of them.
---@field env? table<string, string|number|false> Variables to set (string or number values) or, with `false`, to remove from the environment the child gets.
---@field clear_env? boolean Start from an empty environment instead of luasup's own (then `env` adds to it).
---@field cwd? string Working directory of the child. Failure: "unable to spawn CMD: cannot change directory to DIR: REASON".
---@field stdin? 'null'|'inherit'|'pipe' 'null' (the default: /dev/null), 'inherit' (luasup's own stdin) or 'pipe' (for child:write and child:close).
---@field stdout? luasup.Output 'capture' (the default), 'inherit', 'null', 'log' (records on the log bus: require('logs')), a file path (containing a '/'), or a function called with each line.
---@field stderr? luasup.Output As stdout.
---@field prefix? string Relay the child's output to luasup's stdout/stderr line by line, each line prefixed with this text. Makes both streams 'inherit' unless stdout/stderr say otherwise.
---@field user? string|integer User to run as: a name, or a uid (a uid without a passwd entry is fine). Also sets that user's group and supplementary groups unless `group` is given. Needs luasup to run as root ("unable to spawn CMD: user= and group= need luasup to run as root"; "unknown user 'X'").
---@field group? string|integer Group to run as: a name or a gid, then the child's only group. Needs luasup to run as root ("unknown group 'X'").
---@field setsid? boolean Start the child in a new session (setsid) instead of a new process group.
---@field umask? integer The child's umask, e.g. 63 (octal 077). Lua has no octal literals: write 18 for 022.
---@field name? string Name for luasup's log lines ("started NAME (pid N)", "exited NAME ...") and the task names of stdout/stderr functions. A named child's start and exit are logged at level info, others at debug.
---@field log_name? string The name of its records on the log bus (stdout/stderr = 'log'); default: `name`, else the command's base name.
---@field fds? luasup.Listener[] Listening sockets from init.listen, passed as fds 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID set (systemd's socket passing).
---@field notify? boolean Give the child NOTIFY_SOCKET (sd_notify protocol) so it can report READY=1; wait for it with child:ready().

---Options of `init.http_get`. Unknown names and wrong types are
---`bad argument #2 to 'http_get'` errors.
---@class luasup.HttpOptions
---@field timeout? number Seconds for the whole request, connecting included (default 5); a positive finite number.
---@field headers? table<string, string|number> Request headers, `{name = value}`; a value may be a number. A header given here replaces luasup's default of the same name (Host, User-Agent: luasup, Accept: */*, Connection: close), whatever its case.
---@field max_body? integer Largest body accepted, in bytes (default 1048576); a non-negative integer. A longer body fails with "body too large (over N bytes)".

---Options of `init.watch`.
---@class luasup.WatchOptions
---@field debounce? number Seconds without a further change before fn is called (default 0.1); a non-negative finite number.

---Options of `init.listen`.
---@class luasup.ListenOptions
---@field name? string The socket's name in LISTEN_FDNAMES (default 'listener'): 1-255 printable ASCII characters, no ':'.

---What `child:stats()` returns: the child and all its descendants, read
---from /proc.
---@class luasup.ChildStats
---@field rss integer Resident memory, in bytes.
---@field cpu number CPU time used so far, user plus system, in seconds.
---@field threads integer Threads.
---@field processes integer Processes (the child itself included).

---Signal names to numbers (Linux numbering, shown for x86-64 and arm64),
---aliases included; the real-time signals are 'SIGRTMIN', 'SIGRTMIN+1',
---... 'SIGRTMAX'.
---@class luasup.Signals
---@field SIGHUP integer 1
---@field SIGINT integer 2
---@field SIGQUIT integer 3
---@field SIGILL integer 4
---@field SIGTRAP integer 5
---@field SIGABRT integer 6
---@field SIGIOT integer 6
---@field SIGBUS integer 7
---@field SIGFPE integer 8
---@field SIGKILL integer 9
---@field SIGUSR1 integer 10
---@field SIGSEGV integer 11
---@field SIGUSR2 integer 12
---@field SIGPIPE integer 13
---@field SIGALRM integer 14
---@field SIGTERM integer 15
---@field SIGSTKFLT integer 16
---@field SIGCHLD integer 17
---@field SIGCLD integer 17
---@field SIGCONT integer 18
---@field SIGSTOP integer 19
---@field SIGTSTP integer 20
---@field SIGTTIN integer 21
---@field SIGTTOU integer 22
---@field SIGURG integer 23
---@field SIGXCPU integer 24
---@field SIGXFSZ integer 25
---@field SIGVTALRM integer 26
---@field SIGPROF integer 27
---@field SIGWINCH integer 28
---@field SIGIO integer 29
---@field SIGPOLL integer 29
---@field SIGPWR integer 30
---@field SIGSYS integer 31
---@field SIGRTMIN integer 34
---@field SIGRTMAX integer 64
---@field [string] integer

-----------------------------------------------------------------------------
-- Objects
-----------------------------------------------------------------------------

---A process started by `init.exec`, in a process group of its own.
---`tostring(child)` is "child NAME pid=N running" (or "exited").
---Methods raise "bad argument #1 to 'M' (child expected, got T); call it
---as child:M()" when called with a dot.
---@class luasup.Child
local Child = {}

---Its process id.
---@return integer pid
function Child:pid() end

---Everything it wrote to stdout, once the stream is closed (waits for
---that). At most the newest LUASUP_CAPTURE_BYTES bytes. nil when it wrote
---nothing or stdout was not captured ('inherit', 'null', a file, a prefix).
---May be called again, and in any order with stderr().
---@async
---@return string? output
function Child:stdout() end

---Everything it wrote to stderr, once the stream is closed; as `stdout()`.
---@async
---@return string? output
function Child:stderr() end

---Waits for it to exit. Its exit code, or the number of the signal that
---killed it (as luavisors: the two are not told apart; `wait()` tells).
---@async
---@return integer code
function Child:status() end

---Waits for it to exit, at most `timeout` seconds (default: no limit).
---`true, 'exit', code` or `true, 'signal', signum`, or `nil, 'timeout'`.
---Errors: "bad argument #1 to 'wait' (number expected, got T)",
---"(non-negative finite number expected, got V)".
---@async
---@param timeout? number seconds, non-negative and finite
---@return true? exited
---@return luasup.ExitReason reason
---@return integer? code exit code or signal number
function Child:wait(timeout) end

---Waits for it to exit, at most `timeout` seconds (default: no limit), and
---returns its exit code as a shell reports it: the code, or 128 + N when
---signal N killed it (143 for SIGTERM). `nil, 'timeout'` when the time runs
---out. Errors as for `wait`, with 'code'.
---@async
---@param timeout? number seconds, non-negative and finite
---@return integer? code 0-255
---@return 'timeout'? err
function Child:code(timeout) end

---Sends SIGKILL to its process group (nothing once it has exited).
---@return 9
function Child:kill() end

---Sends `sig` to its process group. `true`, or `nil, 'not running'` once it
---has exited. Errors: "bad argument #1 to 'signal' (unknown signal 'X')",
---"(signal name or number expected, got T)".
---@param sig luasup.Signal
---@return true? sent
---@return string? err "not running"
function Child:signal(sig) end

---`true` until it has exited (and been reaped).
---@return boolean
function Child:running() end

---An iterator over the lines of a captured stream (default 'stdout') as
---they arrive, without newlines; it returns nil at the end of the stream.
---A line longer than LUASUP_LINE_BYTES (default 65536) comes in pieces of
---that size: with each piece but the last, the iterator also returns true
---(`for line, continues in child:lines() do`). Starts with what is already
---kept. Raises "lines: this stream of the child
---is not captured" for 'inherit', 'null' or a file; "bad argument #1 to
---'lines' ('stdout' or 'stderr' expected, got X)". Each call of the
---iterator may wait.
---@param stream? 'stdout'|'stderr'
---@return async fun(): string?, true? next_line
function Child:lines(stream) end

---Writes `data` to its stdin (started with `stdin = 'pipe'`), waiting while
---the pipe is full. `true`, or `nil, message`: "stdin is closed" (no pipe,
---or after `close()`), "Broken pipe" (the child closed its end).
---Error: "bad argument #1 to 'write' (string expected, got T)".
---@async
---@param data string
---@return true? ok
---@return string? err
function Child:write(data) end

---Closes its stdin pipe, so it reads end of file. Harmless when there is
---no pipe or it is closed already.
---@return true
function Child:close() end

---Memory, CPU time, threads and processes of it and its descendants, or
---`nil, 'not running'` once it has exited.
---@return luasup.ChildStats? stats
---@return string? err "not running"
function Child:stats() end

---Waits until it reports READY=1 on NOTIFY_SOCKET (started with
---`notify = true`), at most `timeout` seconds (default: no limit).
---`true` (also later, once it was ready), `nil, 'timeout'`, or
---`nil, 'exited'` when it exited without being ready. Raises "ready: the
---child was not started with notify = true".
---@async
---@param timeout? number seconds, non-negative and finite
---@return true? ready
---@return string? err "timeout" or "exited"
function Child:ready(timeout) end

---A function running concurrently, from `init.spawn`.
---@class luasup.Task
local Task = {}

---Waits for it to finish: the values the function returned. Raises the
---function's error (message and traceback) if it failed, "the task was
---cancelled" if it was cancelled. An error of a task nobody waits for is
---logged as "luasup: error in task task FILE:LINE: ...".
---@async
---@return any ...
function Task:wait() end

---Stops it where it waits (a task that never waits runs until it does).
---@return true
function Task:cancel() end

---`true` once it has finished, failed or been cancelled.
---@return boolean
function Task:done() end

---A timer from `init.every` or `init.after`. It can be passed to
---`init.wait_any`: an `after` timer finishes after its call.
---@class luasup.Timer
local Timer = {}

---Stops it; a call in progress is stopped where it waits.
---@return true
function Timer:cancel() end

---A watch from `init.watch`. `tostring(watcher)` is "watcher PATH".
---@class luasup.Watcher
local Watcher = {}

---No more calls after this (a call already running finishes). Cancelling
---twice is harmless.
---@return true
function Watcher:cancel() end

---A listening socket from `init.listen`, for children (`exec{fds = ...}`);
---luasup never accepts on it. `tostring(listener)` is
---"listener NAME ADDRESS", with " (closed)" once closed.
---@class luasup.Listener
local Listener = {}

---The socket's file descriptor in luasup. Raises "attempt to use a closed
---listener" after `close()`.
---@return integer fd
function Listener:fd() end

---The bound address, with the real port when 0 was asked for:
---"tcp://127.0.0.1:43817", "tcp://[::1]:8080", "unix:///run/web.sock",
---"unix://@name". Still available after `close()`.
---@return string address
function Listener:address() end

---Closes luasup's socket (and removes its socket file); children that were
---given it keep their copy. Closing twice is harmless.
---@return true
function Listener:close() end

---Waits until a connection waits to be accepted (it stays in the backlog
---for whoever accepts it): `true`, or `nil, 'timeout'`. One wait at a time.
---@param timeout? number seconds
---@return true? ok
---@return string? err
function Listener:wait(timeout) end

---Connections accepted through the socket that are still open (by
---whichever process holds them), plus those waiting to be accepted.
---@return integer
function Listener:connections() end

---A proxy from `init.proxy`: luasup accepts on a listener and connects each
---client through to a target while the proxy is open; while it is shut,
---clients are held (at most 1024, each for 60 s), not refused.
---`tostring(proxy)` is "proxy FROM -> TO".
---@class luasup.Proxy
local Proxy = {}

---Lets clients through from now on (the held ones first).
---@return true
function Proxy:open() end

---Holds new clients until `open()`.
---@return true
function Proxy:shut() end

---Waits until a client is held behind the shut proxy.
---@return true
function Proxy:wait() end

---Clients connected now, held ones included; or, if more, those that
---connected since the last call (a client that came and went counts).
---@return integer
function Proxy:connections() end

---Stops accepting and cuts the connected clients; the listener stays open.
---@return true
function Proxy:close() end

-----------------------------------------------------------------------------
-- The module
-----------------------------------------------------------------------------

---luasup's Lua API: `local init = require('init')`. A superset of
---luavisors' `init` module. Strict: reading a field it does not have raises
---"init has no field 'NAME'" (use `rawget` to test for one).
---@class luasup.init
local init = {}

---Signal names to numbers: `init.signal.SIGTERM == 15`.
---@type luasup.Signals
init.signal = {}

-- Processes ----------------------------------------------------------------

---luasup's own process id.
---@return integer pid
function init.pid() end

---Sends `sig` (default SIGTERM) to `pid`, as kill(2): 0 and negative pids
---mean process groups. `0`, or `nil, message` such as "No such process" or
---"Operation not permitted". Errors: "bad argument #1 to 'kill' (number
---expected, got T)", "bad argument #2 to 'kill' (unknown signal 'X')".
---@param pid integer
---@param sig? luasup.Signal default SIGTERM
---@return 0? ok
---@return string? err
function init.kill(pid, sig) end

---Starts a child: `init.exec(cmd, ...)` or `init.exec{cmd, ..., option = value}`.
---`cmd` is searched in PATH; arguments are strings, numbers or tables of
---them, flattened. By default stdin is /dev/null and stdout and stderr are
---captured. Raises "unable to spawn CMD: REASON" when it cannot be started
---(e.g. "No such file or directory", "Permission denied", "luasup is
---shutting down"); pcall catches it.
---@param cmd string|luasup.ExecOptions the command, or the table form
---@param ... luasup.Arg
---@return luasup.Child child
---@overload fun(cmd: string, ...: luasup.Arg): luasup.Child
---@overload fun(spec: luasup.ExecOptions, ...: luasup.Arg): luasup.Child
function init.exec(cmd, ...) end

---The children started with `init.exec` that are still running, by pid.
---@return luasup.Child[]
function init.children() end

-- Concurrency --------------------------------------------------------------

---Seconds on a monotonic clock (CLOCK_MONOTONIC, a float with sub-millisecond
---resolution): for measuring how long something took. Not a wall-clock time.
---@return number seconds
function init.now() end

---Waits `seconds` (fractions allowed) while other tasks run; returns
---`seconds`. Errors: "bad argument #1 to 'sleep' (number expected, got T)",
---"(non-negative finite number expected, got V)".
---@async
---@param seconds number
---@return number seconds
function init.sleep(seconds) end

---Runs `fn(...)` in a task of its own, concurrently with the caller; it
---starts when the caller next waits. Error: "bad argument #1 to 'spawn'
---(function expected, got T)".
---@param fn async fun(...)
---@param ... any arguments for fn
---@return luasup.Task task
function init.spawn(fn, ...) end

---Calls `fn(...)` every `seconds`, the first time `seconds` from now, each
---call in a task of its own. Calls never overlap: one that overruns delays
---the next and missed ticks are skipped. An error in fn is logged with its
---traceback and the timer goes on.
---@param seconds number non-negative and finite
---@param fn async fun(...)
---@param ... any arguments for fn
---@return luasup.Timer timer
function init.every(seconds, fn, ...) end

---Calls `fn(...)` once, `seconds` from now, in a task of its own.
---@param seconds number non-negative and finite
---@param fn async fun(...)
---@param ... any arguments for fn
---@return luasup.Timer timer
function init.after(seconds, fn, ...) end

---Waits for the first of some children, tasks and timers to finish and
---returns it (the earliest argument if several are done), or
---`nil, 'timeout'` after `timeout` seconds (a number as the last argument).
---A task's error is not raised here: `task:wait()` raises it. Errors: "bad
---argument #N to 'wait_any' (child or task expected, got T)", "(... got no
---value)" when nothing is given.
---@async
---@param ... luasup.Child|luasup.Task|luasup.Timer|number things to wait for, then an optional timeout
---@return (luasup.Child|luasup.Task|luasup.Timer)? first
---@return string? err "timeout"
function init.wait_any(...) end

-- Lifecycle ----------------------------------------------------------------

---Takes over a signal: `fn(signame)` runs for each delivery, in order, in a
---task of its own (deliveries queue while it runs), instead of luasup's
---default; or `'ignore'`, or `'default'` to restore luasup's handling.
---`signame` is the canonical name, e.g. "SIGTERM". Returns true. Errors:
---"bad argument #1 to 'on' (SIGKILL, SIGSTOP and SIGCHLD cannot be
---handled)", "bad argument #2 to 'on' (function, 'default' or 'ignore'
---expected, got X)".
---@param sig luasup.Signal
---@param action async fun(signame: string)|luasup.SignalAction
---@return true
function init.on(sig, action) end

---Adds a hook: `fn(code)` runs as luasup exits, after its children have
---stopped, with the exit code. Hooks run in order, together bounded by the
---grace period; they may start children, which are stopped in turn. A
---hook's `init.exit(n)` (or `os.exit(n)`) makes `n` the exit code and ends
---that hook; later hooks get `n`.
---@param fn async fun(code: integer)
function init.on_exit(fn) end

---Begins a graceful shutdown: children are stopped, then luasup exits with
---`code` (default 0; `true` is 0, `false` is 1; taken modulo 256). The
---first exit request wins, except in an `on_exit` hook. Does not return.
---Errors: "bad argument #1 to 'exit' (number expected, got T)",
---"bad argument #1 to 'exit' (integer expected, got 1.5)" (also nan, inf).
---@async
---@param code? integer|boolean
---@return nil
function init.exit(code) end

---Waits until shutdown begins (a stop signal, `init.exit`, the main chunk
---ending) and returns the exit code luasup will use. A task waiting here
---keeps running while the children are stopped.
---@async
---@return integer code
function init.wait() end

---The grace period between the stop signal and SIGKILL, in seconds; with
---an argument, sets it. Returns the period in force before the call.
---@param seconds? number non-negative and finite
---@return number previous
function init.shutdown_grace(seconds) end

---Writes `string.format(fmt, ...)` as one of luasup's own log lines on
---stderr, shown by the LUASUP_LOG_LEVEL rule (error always). Errors: "bad
---argument #1 to 'log' ('error', 'warn', 'info' or 'debug' expected, got
---'X')", "bad argument #2 to 'log' (format: REASON)".
---@param level luasup.LogLevel
---@param fmt string
---@param ... any
function init.log(level, fmt, ...) end

-- Probes and plumbing ------------------------------------------------------

---Opens a TCP connection to host:port and closes it again. `true`, or
---`nil, message`: "connection refused", "timeout", "unable to resolve HOST:
---REASON", or another lowercase system message. `timeout` in seconds,
---default 2.
---@async
---@param host string a name or an IP address (IPv6 without brackets)
---@param port integer|string 1-65535, or a string of digits (from os.getenv)
---@param timeout? number positive and finite
---@return true? ok
---@return string? err
function init.tcp_check(host, port, timeout) end

---An HTTP/1.1 GET (http or https, certificates verified). Any status is an
---answer: `status, body, headers` (header names lowercase, repeated ones
---joined with ", "); redirects are returned, not followed. On failure
---`nil, message`: "timeout", "connection refused", "invalid url 'U':
---REASON", "connection closed without a response", "incomplete response",
---"invalid response: ...", "body too large (over N bytes)", "tls: ...".
---@async
---@param url string
---@param opts? luasup.HttpOptions
---@return integer? status
---@return string body_or_err the body, or the error message
---@return table<string, string>? headers
function init.http_get(url, opts) end

---Watches a file or directory (by path: replacing it by rename, removing
---and re-creating it, or swapping a symlink are followed) and calls
---`fn(path)` in a task of its own after each burst of changes, once
---`debounce` seconds have passed without another. Calls never overlap.
---`watcher`, or `nil, 'unable to watch PATH: REASON'`.
---@param path string
---@param fn async fun(path: string)
---@param opts? luasup.WatchOptions
---@return luasup.Watcher? watcher
---@return string? err
function init.watch(path, fn, opts) end

---Opens a listening socket for children: "tcp://IPV4:PORT",
---"tcp://[IPV6]:PORT" (port 0 picks a free one), "unix:///abs/path",
---"unix://rel/path" or "unix://@abstract". `listener`, or `nil, message`:
---"invalid address 'A': REASON", "unable to listen on A: REASON".
---@param address string
---@param opts? luasup.ListenOptions
---@return luasup.Listener? listener
---@return string? err
function init.listen(address, opts) end

---A proxy accepting on `listener` for `target` ("tcp://HOST:PORT",
---"unix:///PATH"), shut at first. `proxy`, or `nil, message`:
---"invalid address 'A': REASON".
---@param listener luasup.Listener
---@param target string
---@return luasup.Proxy? proxy
---@return string? err
function init.proxy(listener, target) end

-----------------------------------------------------------------------------
-- Globals luasup sets up
-----------------------------------------------------------------------------

---The script's arguments: `arg[0]` is the script's path (or the inline
---code), `arg[1]` ... `arg[n]` its arguments (also the main chunk's `...`),
---and `arg[-1]` a command that runs luasup again:
---`init.exec(arg[-1], 'lua code')`.
---@type table<integer, string>
arg = {}

return init
