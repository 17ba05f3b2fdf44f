-- Run a command after the service has stopped, with its exit code: an
-- alert, a cleanup, an upload of logs. The hook finds LUASUP_EXIT_CODE (the
-- code, or 128 + N for signal N), LUASUP_EXIT_TEXT and LUASUP_RUNTIME in its
-- environment; it runs within HOOK_TIMEOUT seconds (30), also when luasup
-- is stopped.
--   luasup lua/posthook.lua HOOK_CMD -- CMD [ARGS...]
local sup = require('supervise')
local args = { ... }
local split
for i, a in ipairs(args) do
    if a == '--' then split = i end
end
if not split or split == 1 or split == #args then
    error('usage: luasup posthook.lua HOOK_CMD -- CMD [ARGS...]', 0)
end
local hook = { unpack(args, 1, split - 1) }

-- a oneshot: it runs once, and luasup exits with its code
sup.oneshot('main', {
    cmd = { unpack(args, split + 1) },
    post_exit = hook,
    hook_timeout = tonumber(os.getenv('HOOK_TIMEOUT')),
})
return sup.run()
