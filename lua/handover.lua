-- Zero-downtime restarts. luasup holds the listening socket and hands it to
-- each generation of the server (systemd's LISTEN_FDS protocol); a new
-- generation says READY=1 (NOTIFY_SOCKET) once it serves, and only then is
-- the old one stopped. Meanwhile connections wait in the socket's backlog:
-- no client is ever refused.
--   luasup lua/handover.lua [PORT] [GENERATIONS] [PERIOD]
local init = require('init')
local port = arg[1] or '8080'
local generations = tonumber(arg[2]) or 3
local period = tonumber(arg[3]) or 5

local sock = assert(init.listen('tcp://127.0.0.1:' .. port, { name = 'http' }))
print('listening on ' .. sock:address())

-- A tiny HTTP server taking its socket from luasup, answering its generation.
local SERVER = [[
import os, signal, socket, sys
assert os.environ['LISTEN_PID'] == str(os.getpid()) and os.environ['LISTEN_FDS'] == '1'
sock = socket.socket(fileno=3)
sock.settimeout(0.05)
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.sendto(b'READY=1', '\0' + os.environ['NOTIFY_SOCKET'][1:])
while not stopping:
    try:
        conn, _ = sock.accept()
    except (socket.timeout, InterruptedError):
        continue
    with conn:
        conn.settimeout(5)
        conn.recv(65536)
        conn.sendall(b'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\ngeneration ' + sys.argv[1].encode() + b'\n')
]]

local function start(generation)
    local server = init.exec{ 'python3', '-c', SERVER, generation, fds = { sock }, notify = true,
                              name = 'server' .. generation }
    assert(server:ready(10), 'generation ' .. generation .. ' did not become ready')
    init.log('info', 'generation %d serving (pid %d)', generation, server:pid())
    return server
end

local current = start(1)
for generation = 2, generations do
    init.sleep(period)
    local new = start(generation)
    current:signal('TERM') -- it finishes the request in hand, then exits
    current:wait()
    current = new
end
print('all generations started')
init.wait()
