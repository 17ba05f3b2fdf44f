"""The control plane: a unix socket serving JSON-RPC (server.py, with the
Lua side in lua/supervise/control.lua) and `luasup ctl`, its client."""
