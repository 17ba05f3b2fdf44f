-- Run a command after luasup's children have stopped, with the exit code:
-- an alert, a cleanup, an upload of logs.
--   luasup lua/posthook.lua HOOK_CMD -- CMD [ARGS...]
local init = require('init')
local args = { ... }
local split
for i, a in ipairs(args) do
    if a == '--' then split = i end
end
if not split or split == 1 or split == #args then
    error('usage: luasup posthook.lua HOOK_CMD -- CMD [ARGS...]', 0)
end
local hook = { unpack(args, 1, split - 1) }
local cmd = { unpack(args, split + 1) }

init.on_exit(function(code)
    -- the hook learns the code from its environment
    init.exec{ hook, env = { EXIT_CODE = code }, stdout = 'inherit' }:wait()
end)

-- its exit code as a shell gives it: the code, or 128 + N for signal N
return init.exec{ cmd, stdout = 'inherit', stderr = 'inherit' }:code()
