---@meta supervise

-- Type definitions of luasup's `supervise` library for lua-language-server
-- (LuaLS), the companion of meta/init.lua in the same directory. This file
-- only describes the API: luasup never loads it. The reference is
-- docs/services.md.
--
-- Declarations (sup.service, sup.oneshot, the probes) check their
-- arguments at once and raise "FILE:LINE: bad argument #N to 'NAME' (...)"
-- at the script's line. Control calls (sup.start, sup.stop, ...) raise for
-- a name that is not a string, and return `nil, why` for a service that is
-- not there or not in a state for it.

---A restart policy.
---@alias supervise.Restart
---| 'always'     # restart after every exit (services' default; a oneshot that succeeded is never run again)
---| 'on-failure' # restart unless it exited with a success code
---| 'never'      # never restart (oneshots' default)

---A service's state.
---@alias supervise.State
---| 'waiting'  # waiting for its dependencies
---| 'starting' # its process runs but is not ready yet (a oneshot: running)
---| 'running'  # ready: dependents may start, health checks run
---| 'stopping' # its stop signal was sent
---| 'backoff'  # it exited and starts again after a delay
---| 'exited'   # a service that exited successfully and is not restarted
---| 'done'     # a oneshot that succeeded
---| 'failed'   # gave up: a failure not restarted, or the crash-loop limit
---| 'stopped'  # declared and not started yet, or stopped by sup.stop, sup.remove or the ordered stop
---| 'idle'     # an on-demand service waiting for its first client (docs/live.md)

---A probe made by sup.http, sup.tcp, sup.command, sup.notify, sup.output or
---sup.delay.
---@class supervise.Probe
---@field kind 'http'|'tcp'|'command'|'notify'|'output'|'delay'|'function'
---@field text string What it checks, for messages.

---A custom probe: a true value (a string becomes the text of `why`) when
---the check passes, else `nil, why`. It runs in a task of its own and may
---wait; it is cut off 0.1 s after `timeout`.
---@alias supervise.ProbeFunction async fun(timeout: number): any, string?

---@alias supervise.AnyProbe supervise.Probe|supervise.ProbeFunction

---Delays before restarts, in seconds: restart n waits
---min(initial * factor^(n-1), max), varied by up to ± jitter * delay; never
---sooner than 1 s after the previous start.
---@class supervise.Backoff
---@field initial? number First delay (default 1).
---@field factor? number Growth per restart, at least 1 (default 2).
---@field max? number Longest delay (default 30).
---@field jitter? number Random variation, a fraction from 0 to 1 (default 0).
---@field reset_after? number A run at least this long starts the sequence again (default 60).

---The crash-loop limit: more than `burst` exits within `within` seconds
---and the service gives up (`failed`).
---@class supervise.Limit
---@field burst? integer Exits allowed in the window (default 5).
---@field within? number The window, in seconds (default 60).

---When a service counts as ready.
---@class supervise.Ready
---@field probe supervise.AnyProbe
---@field every? number Seconds between checks (default 0.5); the first is made at once.
---@field timeout? number Seconds one check may take (default 1).
---@field deadline? number Seconds from the start: not ready by then is a failed start (default 60).

---Health (liveness) checks, from readiness on, with Kubernetes' defaults.
---@class supervise.Health
---@field probe supervise.AnyProbe sup.http, sup.tcp, sup.command or a function.
---@field every? number Seconds from the start of one check to the next (default 10; periodSeconds).
---@field timeout? number Seconds one check may take; a hung check is cut off (default 1; timeoutSeconds).
---@field failures? integer Failed checks in a row that restart the service (default 3; failureThreshold).
---@field successes? integer Passing checks in a row that clear the failures (default 1; successThreshold).
---@field initial_delay? number Seconds from readiness to the first check (default 0; initialDelaySeconds).

---How a service is stopped.
---@class supervise.Stop
---@field signal? luasup.Signal Sent to its process group (default 'TERM').
---@field timeout? number Seconds before SIGKILL (default: the grace period in force when it stops, LUASUP_GRACE_MS).

---What a pre_start hook gets.
---@class supervise.StartInfo
---@field service string
---@field restarts integer

---What a post_exit hook gets.
---@class supervise.ExitInfo
---@field service string
---@field how 'exit'|'signal'|'start' An exit, a signal, or a start that failed.
---@field value integer The exit code or the signal number.
---@field code integer The exit code as a shell gives it: 128 + N for signal N.
---@field text string E.g. 'exit code 3', 'signal SIGTERM', 'not ready within 60 s'.
---@field runtime number Seconds it ran.
---@field restarts integer

---A hook: a function (fails if it raises or returns false, why), or an
---init.exec command table (fails if it exits non-zero; gets LUASUP_SERVICE,
---LUASUP_RESTARTS and, after an exit, LUASUP_EXIT_CODE, LUASUP_EXIT_TEXT,
---LUASUP_RUNTIME). A command hook's output goes where the service's would,
---unless it sets stdout, stderr or prefix.
---@alias supervise.HookFunction async fun(info: supervise.StartInfo|supervise.ExitInfo): boolean?, string?
---@alias supervise.Hook supervise.HookFunction|luasup.ExecOptions

---A declaration for sup.service and sup.oneshot: the command (`cmd`, or the
---array part), the library's options, and every option of init.exec.
---Unknown names and wrong values are `bad argument #2 to 'service'` errors.
---@class supervise.Spec: luasup.ExecOptions
---@field cmd? string[]|string The command: {program, args...}, or a program name (no shell). Or give it in the array part.
---@field after? string[]|string Services this one needs: it starts once they are running (oneshots: done).
---@field critical? boolean|'exit' true: when it gives up, stop everything and exit with its code; 'exit': whenever it exits. Default false, true for a oneshot.
---@field restart? supervise.Restart Default 'always', 'never' for a oneshot.
---@field success? integer[]|integer Exit codes that count as success (default {0}).
---@field backoff? supervise.Backoff Default {initial = 1, factor = 2, max = 30, jitter = 0, reset_after = 60}.
---@field limit? supervise.Limit|false Default {burst = 5, within = 60}; false: never give up.
---@field ready? supervise.Ready|supervise.AnyProbe|number When it is ready: a probe, seconds after start, or a table. Default: at once.
---@field health? supervise.Health|supervise.AnyProbe Health checks; none by default.
---@field stop? supervise.Stop|luasup.Signal How to stop it; a signal alone is {signal = ...}.
---@field timeout? number Seconds a run may last; then it is stopped and counts as a failure.
---@field pre_start? supervise.Hook Run before each start; a failure is a failed start.
---@field post_exit? supervise.Hook Run after each exit, and after a stop.
---@field hook_timeout? number Seconds a hook may run (default 30).
---@field autostart? boolean false: sup.run() (or a declaration after it) does not start it; sup.start does (default true).
---@field on_demand? boolean|supervise.OnDemand Started by the first connection to its listeners (docs/live.md).

---Options of an on-demand service (docs/live.md).
---@class supervise.OnDemand
---@field idle? number Stop it after this many seconds without a connection (default: never).
---@field proxy? string Its own address (tcp://HOST:PORT, unix:///PATH): luasup accepts on `listen` and connects clients through once it is ready.
---@field listen? luasup.Listener|luasup.Listener[] With `proxy`: where luasup accepts.

---The plan of a reload: service names in each list.
---@class supervise.Plan
---@field added string[]
---@field removed string[]
---@field changed string[]
---@field unchanged string[]

---An exit as sup.status reports it.
---@class supervise.LastExit
---@field code integer The exit code as a shell gives it (128 + N for signal N; 127 or 126: could not start).
---@field how 'exit'|'signal'|'start' An exit, a signal, or a start that failed.
---@field value integer The exit code or the signal number.
---@field text string E.g. 'exit code 3', 'signal SIGTERM', 'health check failed 3 times: HTTP 500'.
---@field runtime number Seconds it ran.
---@field time number When, on the init.now() clock.

---A service's status.
---@class supervise.Status
---@field name string
---@field kind 'service'|'oneshot'
---@field state supervise.State
---@field why string Why it is in that state, e.g. 'ready: HTTP 200', 'restart in 2 s after exit code 3'.
---@field since number When it entered that state (init.now() clock).
---@field started? number When its process started (init.now() clock); nil without a process.
---@field pid? integer Its process, while there is one.
---@field restarts integer Restarts since it was declared.
---@field critical boolean|'exit'
---@field healthy? boolean From the last health check (true without health once ready; nil before the first).
---@field health_why? string While health checks fail: 'health check failed (N of M): REASON'.
---@field after string[] Its dependencies (a copy).
---@field last_exit? supervise.LastExit nil before its first exit.

---A state change, for sup.on('state', fn).
---@class supervise.Event
---@field service string
---@field state supervise.State
---@field previous supervise.State
---@field why string
---@field pid? integer nil once its process has exited.
---@field time number init.now() clock.

---The control socket sup.run() serves (docs/ctl.md).
---@class supervise.ControlOptions
---@field path? string The socket (default /run/luasup/ctl.sock for root, else under XDG_RUNTIME_DIR or /tmp/luasup-UID); LUASUP_CTL overrides it.
---@field allow? table<integer|string, 'read'|'full'> Other uids (or user names) that may connect; root and luasup's own uid always have full access.
---@field eval? boolean Allow `luasup ctl eval` and `repl` (for root only) (default false).
---@field logs? logs.RingSink The logs.ring sink `luasup ctl logs` reads (default: the first ring declared).
---@field metrics? string A loopback address, e.g. '127.0.0.1:9100', to serve Prometheus metrics on.

---@class supervise
local sup = {}

---Declares a long-running service (restarted by default, not critical).
---Before sup.run it starts with the others; after, at once. Returns `name`.
---@param name string No spaces; unique.
---@param spec supervise.Spec
---@return string name
function sup.service(name, spec) end

---Declares a oneshot: a command run to completion, `done` when it exits
---with a success code (critical by default, not restarted; no ready or
---health). Returns `name`.
---@param name string
---@param spec supervise.Spec
---@return string name
function sup.oneshot(name, spec) end

---Sets how sup.run() serves the control socket that `luasup ctl` talks
---to (docs/ctl.md); `false`: serve none. Call it before sup.run(); each call
---replaces the settings of the one before.
---@param opts supervise.ControlOptions|false
function sup.control(opts) end

---Starts every declared service and waits until all have stopped: on
---SIGTERM/SIGINT (returns 128 + N), when a critical service ends it (its
---code), on sup.shutdown(code), or when nothing is left to run (0, or the
---code of the first failed service). An unknown dependency or a cycle
---makes luasup exit 2 before anything starts. Use as `return sup.run()`.
---@async
---@return integer code
function sup.run() end

---Begins the ordered stop (reverse dependency order, within the grace
---period); sup.run then returns `code` (default 0).
---@param code? integer
function sup.shutdown(code) end

---Starts a stopped, exited, done or failed service; its backoff and
---crash-loop window start afresh; its state changes when the caller next
---waits. `true`, or `nil` and why: "no service 'x'", "already started",
---"shutting down", "the services are not running yet (sup.run)".
---@param name string
---@return true? ok
---@return string? err
function sup.start(name) end

---Stops a service for good (no restart); returns once its process group is
---gone and its post_exit hook has run. `true`, or `nil, "no service 'x'"`.
---@async
---@param name string
---@return true? ok
---@return string? err
function sup.stop(name) end

---sup.stop, then sup.start.
---@async
---@param name string
---@return true? ok
---@return string? err
function sup.restart(name) end

---Sends a signal to the service's process group. `true`, or `nil` and
---"no service 'x'" or "not running". A bad signal is an argument error.
---@param name string
---@param sig luasup.Signal
---@return true? ok
---@return string? err
function sup.signal(name, sig) end

---A service's status, or `nil, "no service 'x'"`.
---@param name string
---@return supervise.Status? status
---@return string? err
function sup.status(name) end

---The status of every service, in the order declared.
---@return supervise.Status[]
function sup.list() end

---Stops a service and forgets it. `true`, or `nil` and why: "no service
---'x'", "a, b depends on it".
---@async
---@param name string
---@return true? ok
---@return string? err
function sup.remove(name) end

---Runs the policy file again and applies what changed: new services start,
---removed ones stop, changed ones restart (with `dependents`, what depends
---on them too), the rest run on untouched. The plan, or `nil` and why
---(nothing changed then). `dry_run`: the plan only (docs/live.md).
---@async
---@param opts? {dry_run?: boolean, dependents?: boolean}
---@return supervise.Plan? plan
---@return string? err
function sup.reload(opts) end

---Reload on a signal and/or when the policy file changes (debounce: s).
---@param opts {signal?: string|integer, watch?: boolean, debounce?: number}
---@return true
function sup.reload_on(opts) end

---`true` while a reload runs the policy again (guard what must run once).
---@type boolean
sup.reloading = false

---Replace luasup by the luasup installed now, in place (same pid), keeping
---every child, its pipes, the listeners, the control socket and the
---services' states; the new luasup is checked first. Returns only when it
---did not happen.
---@return nil
---@return string err
function sup.reexec() end

---Calls `fn` after each state change, with the events in order, in a task
---of its own (it may wait). An error in it is logged; the next event
---still comes.
---@param what 'state'
---@param fn async fun(event: supervise.Event)
---@return true
function sup.on(what, fn) end

---Probe: an HTTP GET of `url` answered 200-399.
---@param url string
---@param opts? {headers?: table<string, string|number>}
---@return supervise.Probe
function sup.http(url, opts) end

---Probe: a TCP connection to host:port is accepted.
---@param host string
---@param port integer|string
---@return supervise.Probe
function sup.tcp(host, port) end

---Probe: a command exits 0; an init.exec table (output to /dev/null unless
---given), or the command and its arguments. Killed at the probe's timeout.
---@param cmd luasup.ExecOptions|string
---@param ... luasup.Arg
---@return supervise.Probe
function sup.command(cmd, ...) end

---Readiness only: the service sends READY=1 (sd_notify); luasup gives it
---NOTIFY_SOCKET.
---@return supervise.Probe
function sup.notify() end

---Readiness only: a line of the service's output matches the Lua pattern,
---on `stream` ('stdout', 'stderr', or nil for either; not a stream the
---service writes to a file).
---@param pattern string
---@param stream? 'stdout'|'stderr'
---@return supervise.Probe
function sup.output(pattern, stream) end

---Readiness only: ready `seconds` after its start, if still running.
---@param seconds number
---@return supervise.Probe
function sup.delay(seconds) end

return sup
