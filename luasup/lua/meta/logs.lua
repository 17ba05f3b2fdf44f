---@meta logs

-- Type definitions of luasup's `logs` module (the log stream bus) for
-- lua-language-server (LuaLS), the companion of meta/init.lua in the same
-- directory. This file only describes the API: luasup never loads it. The
-- reference is docs/logs.md.
--
-- Declarations check their arguments at once and raise
-- "FILE:LINE: bad argument #1 to 'logs.console' (...)" at the script's
-- line; a file that cannot be opened raises "logs.file: cannot open PATH:
-- REASON".

---What a sink does when its queue is full.
---@alias logs.Full
---| 'drop-oldest' # drop the oldest queued records (the default)
---| 'drop-newest' # drop the new records
---| 'block'       # console and file only: stop reading the pipes of the children whose lines go to it until it drains

---How a console, file or process sink writes records.
---@alias logs.Format
---| 'text' # the prefix, then the line as the child wrote it
---| 'json' # one JSON object per line: time, name, stream, pid, line (and continued = true for a piece)

---The queue every sink but the ring has. Defaults differ by kind
---(docs/logs.md: console 1 MiB, file 4 MiB, http 8 MiB with batches of
---1 MiB or 1 s, process 4 MiB, function 1 MiB).
---@class logs.QueueOptions
---@field max_bytes? number Bytes the queue holds at most, as the sink will write them.
---@field full? logs.Full What happens when it is full (default 'drop-oldest').
---@field batch_bytes? number Deliver once this many bytes are queued.
---@field batch_time? number Or once the oldest record has waited this many seconds (at most 3600); 0: at once.

---Options of logs.console.
---@class logs.ConsoleOptions: logs.QueueOptions
---@field stream? 'same'|'stdout'|'stderr' 'same' (default): each record to luasup's stream of the same name.
---@field prefix? string Template before each line: {name} {stream} {pid} {time}, each with an optional width up to 999 ({name:>8}) (default '{name} | ').
---@field format? logs.Format Default 'text'; 'json' ignores the prefix.
---@field color? boolean|'auto' Colour the prefix per name; 'auto' (default): only on a terminal.

---File rotation, by renaming: app.log -> app.log.1 -> ... -> app.log.KEEP.
---@class logs.Rotate
---@field size? number Rotate before the file would pass this many bytes (default 0: never).
---@field keep? integer Rotated files kept (default 5; 0: none).
---@field age? number At each rotation, delete rotated files older than this many seconds.

---Options of logs.file.
---@class logs.FileOptions: logs.QueueOptions
---@field path string The file, appended to (created with mode 0644).
---@field prefix? string As the console's (default '': none).
---@field format? logs.Format Default 'text'.
---@field rotate? logs.Rotate Default: no rotation.

---Options of logs.ring: what it keeps of each name.
---@class logs.RingOptions
---@field lines? number Records kept per name (default 1000).
---@field bytes? number Bytes kept per name, each record counted as its line and 64 (default 1048576); the newest record is always kept. Rings of the 256 names written to last are kept.

---Options of logs.http.
---@class logs.HttpOptions: logs.QueueOptions
---@field url string http://HOST[:PORT]/PATH or https://..., e.g. 'http://loki:3100/loki/api/v1/push'.
---@field format? 'loki'|'ndjson' 'loki' (default): Loki's push API, streams labelled service and stream; 'ndjson': one JSON object per record.
---@field labels? table<string, string|number> Static labels added to every Loki stream (or NDJSON object); not 'service' or 'stream' (NDJSON: no record field).
---@field headers? table<string, string|number> Request headers.
---@field timeout? number Seconds one request may take (default 10).

---A consumer process and its options: the command in the array part.
---@class logs.ProcessOptions: logs.QueueOptions
---@field [1] string The program (searched in PATH).
---@field [integer] string|number Its arguments.
---@field name? string Names the sink in messages (default: the program's base name).
---@field format? logs.Format Default 'text'.
---@field prefix? string As the console's, for 'text' (default '').
---@field env? table<string, string|number|false> As init.exec's.
---@field clear_env? boolean As init.exec's.
---@field cwd? string As init.exec's.
---@field user? string|integer As init.exec's.
---@field group? string|integer As init.exec's.
---@field umask? integer As init.exec's.

---A route: which records go to which sinks.
---@class logs.Route
---@field name? string|string[] Only records of these names (default: all).
---@field stream? 'stdout'|'stderr' Only records of this stream (default: both).
---@field match? string A Lua pattern searched in the line (default: every line).
---@field to? logs.Sink|logs.Sink[] Where the records go.
---@field drop? boolean What the route matches goes nowhere and no further route sees it.
---@field final? boolean What the route matches goes to its sinks and no further route sees it.

---A record: one line of a child's output (or of luasup's own, named 'luasup').
---@class logs.Record
---@field name string The child's log_name, name, or program.
---@field stream 'stdout'|'stderr'
---@field pid integer
---@field line string The line without its newline, bytes as written.
---@field time number When it was read: wall clock, seconds since the epoch.
---@field mono? number The same time on the init.now() clock (function sinks).
---@field continued? boolean true: a piece of a longer or unfinished line, whose rest is the next record; else false (function sinks).

---What sink:stats() returns.
---@class logs.Stats
---@field kind 'console'|'file'|'ring'|'http'|'process'|'function'
---@field label string How messages name the sink, e.g. 'file /var/log/app.log'.
---@field queued integer Bytes queued.
---@field delivered integer Records delivered.
---@field delivered_bytes integer
---@field dropped integer Lines dropped (queue full, failed writes).
---@field dropped_bytes integer
---@field rotations? integer File sinks: rotations so far.
---@field rejected? integer Http sinks: lines of batches the server refused for good.
---@field rejected_bytes? integer Http sinks.
---@field retries? integer Http sinks: posts tried again.
---@field sending? integer Http sinks: lines of the batch in hand.
---@field restarts? integer Process sinks: restarts of the consumer.
---@field resent? integer Process sinks: lines written again to a restarted consumer.
---@field resent_bytes? integer Process sinks.
---@field pid? integer Process sinks: the consumer's pid, nil while none runs.
---@field errors? integer Function sinks: records whose function raised an error.

---A sink, as every logs.* declaration returns it.
---@class logs.Sink
local Sink = {}

---Counters and state of the sink.
---@return logs.Stats
function Sink:stats() end

---Delivers what is queued now, without waiting for batch_bytes or batch_time.
function Sink:flush() end

---A file sink.
---@class logs.FileSink: logs.Sink
local FileSink = {}

---Closes and reopens the file by its path (after an outside rotation; a
---SIGHUP handler can call it). Raises for a sink that is not a file.
function FileSink:reopen() end

---A ring sink.
---@class logs.RingSink: logs.Sink
local RingSink = {}

---The last `n` records of `name` (all kept if n is nil), or of every name
---merged by time if name is nil; oldest first. Raises for a sink that is
---not a ring.
---@param name? string
---@param n? integer
---@return logs.Record[]
function RingSink:tail(name, n) end

---A wait for a line, from logs.watch.
---@class logs.Watch
local Watch = {}

---Waits for the line (returned at once if it already came); nil after
---`timeout` seconds or once cancelled. Either way the watch is then over:
---another wait returns nil.
---@async
---@param timeout? number
---@return string? line
function Watch:wait(timeout) end

---Ends the watch; a wait under way returns nil.
function Watch:cancel() end

---What stdin:stats() returns.
---@class logs.StdinStats
---@field kind 'stdin'
---@field label string
---@field read integer Bytes read from luasup's stdin.
---@field written integer Bytes written to the children, all together.
---@field dropped_bytes integer Bytes still queued for a child that exited or closed its stdin.
---@field paused integer How many times reading waited for a slow child.
---@field children integer Children fed now.
---@field eof boolean luasup's stdin has ended.

---What logs.stdin returns.
---@class logs.StdinFan
local StdinFan = {}

---Counters of the copy.
---@return logs.StdinStats
function StdinFan:stats() end

---@class logs
local logs = {}

---A sink writing to luasup's own stdout or stderr.
---@param opts? logs.ConsoleOptions
---@return logs.Sink
function logs.console(opts) end

---A sink appending to a file, rotated by renaming if asked; re-created when
---deleted or moved by someone else.
---@param opts logs.FileOptions
---@return logs.FileSink
function logs.file(opts) end

---A sink keeping the last records of each name in memory.
---@param opts? logs.RingOptions
---@return logs.RingSink
function logs.ring(opts) end

---A sink posting batches to Loki's push API or as NDJSON; retried on
---network errors, 429 and 5xx; other 4xx batches are dropped and counted.
---@param opts logs.HttpOptions
---@return logs.Sink
function logs.http(opts) end

---A sink writing records to a long-running consumer's stdin (vector, a
---script); the consumer is restarted if it dies.
---@param spec logs.ProcessOptions
---@return logs.Sink
function logs.process(spec) end

---A sink calling fn with each record, in a task of its own (it may wait);
---calls come in order and never overlap. An error in fn is logged and the
---next record still comes.
---@param fn async fun(rec: logs.Record)
---@param opts? logs.QueueOptions
---@return logs.Sink
function logs.fn(fn, opts) end

---Declares a route. Routes are tried in order; a record goes to the sinks
---of every route that matches it until one with drop or final matches.
---Records no route takes go to a console sink with the prefix '{name} | '
---(luasup's own lines: to stderr). A route naming 'luasup' makes luasup's
---own lines records.
---@param route logs.Route
function logs.route(route) end

---Waits for the first line of the records of `name` (on `stream`, or
---either) in which the Lua pattern is found, checked in the core as
---records pass; only lines that go through the bus ('log' streams) count,
---from the moment of the call.
---@param name string
---@param pattern string
---@param stream? 'stdout'|'stderr'
---@return logs.Watch
function logs.watch(name, pattern, stream) end

---Copies luasup's own stdin to the stdin of the children with these names
---(log_name, name or service name; started with stdin = 'pipe'), each
---getting every byte. Once only.
---@param name string
---@param ... string
---@return logs.StdinFan
function logs.stdin(name, ...) end

---Whether the script has declared any sink or route (services then send
---their output to the bus by default).
---@return boolean
function logs.active() end

return logs
